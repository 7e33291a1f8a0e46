/*
 * main.c — host firmware entry: the protocol harness on a pseudo-terminal.
 * SIGTERM / SIGINT: between commands, the command loop ends and main returns 0; during a
 * command (e.g. a long `infer N`, or a write nobody reads), the process exits at once with 0.
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "port_host.h"

static void on_signal(int sig)
{
    (void)sig;
    if (port_host_stop_requested || !port_host_waiting) {
        _exit(0);
    }
    port_host_stop_requested = 1;
}

int main(void)
{
    struct sigaction sa;
    int status;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    status = harness_main();
    port_host_close();
    return status;
}
