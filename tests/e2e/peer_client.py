"""A connection to traild made by another user: the access tests run this
under `runuser -u NAME` and talk to it through its stdin and stdout.

Usage: peer_client.py SOCKET. Prints one JSON line first: {"connected": true}
or {"connect_error": "<errno name>"} (then exits). After that every line read
on stdin is sent to the daemon as it is, and every line the daemon sends is
printed; end of input closes the connection.
"""
import errno
import json
import socket
import sys
import threading


def main() -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        print(json.dumps({"connect_error": errno.errorcode.get(e.errno, str(e.errno))}), flush=True)
        return
    print(json.dumps({"connected": True}), flush=True)

    def pump() -> None:
        reader = sock.makefile("rb")
        for line in reader:
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        sys.stdout.close()

    threading.Thread(target=pump, daemon=True).start()
    for line in sys.stdin.buffer:
        sock.sendall(line)
    sock.shutdown(socket.SHUT_WR)


if __name__ == "__main__":
    main()
