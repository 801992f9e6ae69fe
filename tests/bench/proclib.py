"""Processes and ports for the benches and the WAN helpers: stdlib only and
no signal handler, so that wanlib (imported by the integration runner's
test threads) can share them with benchlib."""
import signal
import socket
import subprocess
import time


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=20.0, what="process"):
    """Until 127.0.0.1:PORT accepts; PROC's exit first is an error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"{what}: port {port} not listening after {timeout}s")


def stop(proc, timeout=30):
    """SIGTERM by PID, then wait; SIGKILL only if it does not go."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
