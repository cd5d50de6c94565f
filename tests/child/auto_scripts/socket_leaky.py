# ruff: noqa  (a real-world-like program, leaky or correct on purpose: written as people write them)
# A listening socket and a client connection, never closed.
import socket

server = socket.create_server(("127.0.0.1", 0))  # LEAK
client = socket.create_connection(server.getsockname())  # LEAK
conn, _ = server.accept()  # LEAK
client.sendall(b"ping")
print("got", conn.recv(4))
