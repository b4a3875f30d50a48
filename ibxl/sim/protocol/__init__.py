"""The TWS API wire format: framing, message ids, field reading and message encoding.

Nothing in this package knows about markets or accounts; it only turns bytes into
fields and fields into bytes.
"""
