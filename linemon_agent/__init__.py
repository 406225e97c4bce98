"""linemon: ping customer lines from the routers that carry them, for Zabbix."""

__version__ = "0.1.0"
