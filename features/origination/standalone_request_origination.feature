@origination @ep_cscf @non_invite @clause_5_2_2_5_3
Feature: 5.2.2.5.3 Origination of a request outside any session (MESSAGE, OPTIONS)
  TR 23.701 5.2.2.5.3 step 3: "The eP-CSCF then performs standard IMS session origination
  procedure." A WIC's out-of-dialog request other than an INVITE (a MESSAGE, RFC 3428) is an
  initial request as much as an INVITE is (TS 24.229 5.2.6.3: the P-CSCF procedures for
  requests initiated by the UE apply to every initial request, for a dialog or a standalone
  transaction): the eP-CSCF asserts the identity the WIC registered (option B: the individual
  IMPU it allocated, step 2), leaves the From untouched, and sends it on the Service-Route of
  the block registration. Whether the W6 read of step 2 and the W7 query of 5.2.2.5.4 apply to
  a MESSAGE the text does not say ("sessions"): the capture rules judge them for INVITE only.

  Background:
    Given the wIMPU stack is running with the reference profile
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: Step 3 - a MESSAGE from a registered WIC goes through standard IMS origination

    @step_1 @step_3 @TP_WIMPU_ORIG_011
    Scenario Outline: A MESSAGE a WIC sends outside any session reaches the remote party through the S-CSCF, asserting the WIC's IMPU
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" sends a MESSAGE to the remote party with the identity of <user>
      Then the eP-CSCF answers 200
      And the MESSAGE reaches the remote party through the eP-CSCF and the S-CSCF
      And the MESSAGE captured from the eP-CSCF to the S-CSCF is routed by the Service-Route of the registration of the block of <user>
      And the MESSAGE reaching the remote party asserts the individual IMPU of <user>
      And the MESSAGE reaching the remote party carries the From header field exactly as WIC "<wic>" sent it
      And the MESSAGE reaching the remote party carries the text WIC "<wic>" sent

      @option_a
      Examples: identity allocated by the third party
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: external identity, IMPU allocated by the eP-CSCF
        | user | wic |
        | bob  | B1  |

  Rule: Step 3 - an OPTIONS from a registered WIC goes through standard IMS origination

    A capability query (RFC 3261 11) is an initial request like any other (TS 24.229 5.2.6.3):
    the eP-CSCF forwards it on the Service-Route with the WIC's asserted identity, and the
    remote party answers it. An eP-CSCF that answered a WIC's OPTIONS itself, as a keep-alive,
    would leave the remote party's capabilities unknown and the request out of the IMS core.

    @step_1 @step_3 @TP_WIMPU_ORIG_013
    Scenario Outline: An OPTIONS a WIC sends outside any session reaches the remote party through the S-CSCF, asserting the WIC's IMPU
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" sends an OPTIONS to the remote party
      Then the eP-CSCF answers 200
      And the OPTIONS reaches the remote party through the eP-CSCF and the S-CSCF
      And the OPTIONS captured from the eP-CSCF to the S-CSCF is routed by the Service-Route of the registration of the block of <user>
      And the OPTIONS reaching the remote party asserts the individual IMPU of <user>
      And the OPTIONS reaching the remote party carries the From header field exactly as WIC "<wic>" sent it

      @option_a
      Examples: identity allocated by the third party
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: external identity, IMPU allocated by the eP-CSCF
        | user | wic |
        | bob  | B1  |

  Rule: Step 1 - a WIC that has de-registered no longer sends requests with the identity of that registration

    As for a session (TP_WIMPU_ORIG_006): the registration is what authorises a WIC to
    originate (5.2.2.3.2), and a MESSAGE must not enter the IMS core once it is gone.

    @step_1 @negative @inopportune @TP_WIMPU_ORIG_012
    Scenario Outline: A MESSAGE a WIC sends after its de-registration is refused and not relayed
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      And WIC "<wic>" has de-registered
      When WIC "<wic>" sends a MESSAGE to the remote party with the identity of <user>
      Then the eP-CSCF refuses the request
      And no MESSAGE reaches the S-CSCF or the remote party

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |
