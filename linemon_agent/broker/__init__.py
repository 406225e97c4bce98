"""The long-running broker: sessions, scheduling, delivery, the socket server."""
