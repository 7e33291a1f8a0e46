"""What every stage's command line shares."""
import argparse


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line ("<stage>: <message>") with exit status 1,
    like every other error a stage reports."""

    def error(self, message):
        self.exit(1, f"{self.prog}: {message}\n")
