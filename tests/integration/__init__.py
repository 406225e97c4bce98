"""Integration tests: against the real Zabbix 6.0 lab that scripts/zabbix-lab runs."""
