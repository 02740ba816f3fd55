"""The line protocol between the scanner and its probe child (see :mod:`rackhost.chain.discovery.probe`).

Apart from both: the scanner starts the probe by its module name, and the probe
loads plug-ins with :mod:`rackhost.chain.plugin`, whose loads the scanner guards.
"""

# The probe child's first stdout line, just before the plug-in's code runs: the plug-in's clock starts.
PROTOCOL_LOADING = "loading"
