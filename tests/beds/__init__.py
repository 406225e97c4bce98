"""Test beds: the router emulator, network namespaces and a Zabbix trapper receiver."""
