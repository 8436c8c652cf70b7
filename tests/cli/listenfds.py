#!/usr/bin/env python3
"""listenfds.py SOCKET LOG CMD [ARG...]: socket activation as systemd does
it, for the tests: binds and listens on the Unix socket SOCKET (its
directory made 0700), passes it as fd 3 with LISTEN_PID and LISTEN_FDS set,
sends stderr to LOG (appended) and execs CMD."""
import os
import socket
import sys

path, log, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
old = os.umask(0o177)
s.bind(path)
os.umask(old)
s.listen(64)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = "1"
fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.dup2(fd, 2)
os.execvp(cmd[0], cmd)
