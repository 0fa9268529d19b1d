"""Reference implementation of TR 23.701 clause 5.2.2 (WebRTC access to IMS with wIMPU).

Layering (imports go one way only, checked by ``tests/test_layering.py``)::

    reference.sip            sans-I/O SIP core: message, framing, wildcard IMPU,
                             transactions, proxy forking; no asyncio, socket or time
    reference.nodes.*.flows  sans-I/O node logic (generators of effects)
    reference.transport      asyncio shells (WebSocket, TCP, UDP, HTTP)
    reference.nodes.*.service  asyncio services carrying out the flows
"""
