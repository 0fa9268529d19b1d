"""The eP-CSCF of TR 23.701 5.2.2.2: an IWF and a P-CSCF communicating through an internal interface.

Two ways to put them together:

- :mod:`reference.nodes.ep_cscf.bundled`: one node, the IWF and the P-CSCF in one process,
  the internal interface a method call;
- :mod:`reference.nodes.ep_cscf.decomposed`: an IWF node and P-CSCF nodes, the internal
  interface frames over TCP (:mod:`reference.nodes.internal_interface`).

This package is the only one that imports both ``reference.nodes.iwf`` and
``reference.nodes.p_cscf`` (``tests/test_layering.py``).
"""
