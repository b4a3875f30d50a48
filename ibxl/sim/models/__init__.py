"""The gateway's models: state and business logic, no wire formats.

Each area has one name in ``models/``, ``handlers/`` and ``protocol/`` (``history``,
``market_data``, ``contracts`` ...); the :class:`~ibxl.sim.server.Gateway` holds one instance of
each model as a typed attribute (``gateway.market``, ``gateway.broker``, ``gateway.history`` ...).
"""
