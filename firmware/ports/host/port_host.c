/*
 * port_host.c — port.h on Linux. The "UART" is a pseudo-terminal: the device opens the master,
 * puts the slave in raw mode before writing anything (otherwise the line discipline echoes the
 * banner back as input and rewrites CR/LF), keeps one slave descriptor open (so a runner may
 * close and reopen the slave without the master's reads failing with EIO), and announces the
 * slave path on stdout as exactly one line "pty: <path>".
 */
#define _DEFAULT_SOURCE     /* cfmakeraw */
#define _XOPEN_SOURCE 600   /* posix_openpt, grantpt, unlockpt, ptsname */

#include "port.h"
#include "port_host.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t port_host_stop_requested = 0;
volatile sig_atomic_t port_host_waiting = 0;

static int master_fd = -1;
static int slave_fd = -1;
static uint64_t boot_us;

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fail(const char *what)
{
    fprintf(stderr, "port_host: %s: %s\n", what, strerror(errno));
    exit(1);
}

void port_init(void)
{
    struct termios tio;
    const char *path;

    boot_us = monotonic_us();
    master_fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (master_fd < 0) {
        fail("posix_openpt");
    }
    if (grantpt(master_fd) != 0 || unlockpt(master_fd) != 0) {
        fail("grantpt/unlockpt");
    }
    path = ptsname(master_fd);
    if (path == NULL) {
        fail("ptsname");
    }
    slave_fd = open(path, O_RDWR | O_NOCTTY);
    if (slave_fd < 0) {
        fail("open slave");
    }
    if (tcgetattr(slave_fd, &tio) != 0) {
        fail("tcgetattr");
    }
    cfmakeraw(&tio);
    if (tcsetattr(slave_fd, TCSANOW, &tio) != 0) {
        fail("tcsetattr");
    }
    printf("pty: %s\n", path);
    fflush(stdout);
}

int port_read_char(void)
{
    unsigned char c;
    struct pollfd pfd;
    port_host_waiting = 1;
    for (;;) {
        ssize_t n;
        if (port_host_stop_requested) {
            port_host_waiting = 0;
            return -1;
        }
        pfd.fd = master_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* a bounded wait, so a stop request is seen within 100 ms even without EINTR */
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(master_fd, &c, 1);
        if (n == 1) {
            port_host_waiting = 0;
            return c;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n < 0 && errno == EIO) { /* no slave open (cannot happen while slave_fd is) */
            usleep(10000);
            continue;
        }
        port_host_waiting = 0;
        return -1;
    }
}

void port_write(const char *data, size_t len)
{
    while (len > 0 && !port_host_stop_requested) {
        ssize_t n = write(master_fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
            return;
        }
    }
}

uint64_t port_timestamp_us(void)
{
    return monotonic_us() - boot_us;
}

const char *port_name(void)
{
    return "tinysweep-host";
}

long port_stack_peak(long *reserved)
{
    *reserved = -1;
    return -1; /* the OS grows this process's stack: nothing to paint */
}

void port_host_close(void)
{
    if (slave_fd >= 0) {
        close(slave_fd);
        slave_fd = -1;
    }
    if (master_fd >= 0) {
        close(master_fd);
        master_fd = -1;
    }
}
