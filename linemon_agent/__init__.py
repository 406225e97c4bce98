"""linemon: ping customer lines from the routers that carry them, for Zabbix."""

import warnings as _warnings

__version__ = "0.1.0"

# asyncssh's type hints name cryptography's DSA classes, and cryptography >= 48 warns at each
# of them: five CryptographyDeprecationWarning blocks on every broker start and `config check`
# that nobody can act on (linemon never offers DSA). This one warning only, matched by its
# text and by the module it is raised in; every other warning stays visible.
_warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
