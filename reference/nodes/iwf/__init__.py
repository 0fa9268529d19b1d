"""IWF: the WIC-facing part of the eP-CSCF (WSS termination, Origin check, token check).

TR 23.701 5.2.2.2: "The eP-CSCF includes an Inter-Working-Function (IWF) and a P-CSCF
communicating through an internal interface"; the IWF "is indeed the contact point of
the WIC".
"""
