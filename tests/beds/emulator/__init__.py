"""An emulated router fleet on loopback: SSH routers that answer ping like the real ones.

One process (``python -m tests.beds.emulator --config FILE``) hosts hundreds of routers,
each on its own loopback address and port (SSH, optionally telnet too), each speaking its
platform's CLI to scrapli classic (IOS-XE, IOS-XR, NX-OS, JunOS, EOS, Huawei VRP, MikroTik
RouterOS, Linux) and printing each platform's exact ping output as its simulated probes
complete. Tests drive it with :class:`~tests.beds.emulator.client.Emulator` and the
fixtures in :mod:`tests.beds.emulator.fixtures`.

Modules: ``render``/``formats`` (a ping's timed output, pure), ``pingcmd`` (command lines,
pure), ``devices`` (each platform's CLI, pure), ``terminal`` (line editing, pure),
``config``, ``server`` and ``session`` (the asyncssh side), ``telnet`` (a telnet listener
per router, the same shell), ``control`` (the control socket), ``client`` (the test-side
helper), ``fixtures``, ``__main__``.
"""
