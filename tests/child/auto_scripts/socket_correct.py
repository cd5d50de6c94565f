# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# A listening socket and a client connection, each closed by its `with`.
import socket

with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as client:
    conn, _ = server.accept()
    with conn:
        client.sendall(b"ping")
        print("got", conn.recv(4))
