"""Reading a process's CPU time from /proc/PID/stat, shared by cli.py and app.py."""

from pathlib import Path


def stat_fields(pid):
    """The fields of /proc/PID/stat from the 3rd (state) on. The command name (2nd field) is
    cut at its last ')' because it may itself hold spaces and parentheses."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def cpu_ticks(pid, reaped=False):
    """utime+stime of `pid` in clock ticks (plus its reaped children's, when asked)."""
    fields = stat_fields(pid)
    ticks = int(fields[11]) + int(fields[12])
    return ticks + (int(fields[13]) + int(fields[14]) if reaped else 0)
