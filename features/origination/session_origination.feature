@origination @ep_cscf @clause_5_2_2_5_3
Feature: 5.2.2.5.3 Origination
  TR 23.701 5.2.2.5.3: "For WIC originating sessions arriving to the eP-CSCF, if the eP-CSCF
  allocated the individual IMPU then the eP-CSCF shall first retrieve the registration
  context for the WIC from the wIMPU Registrar. Following that, the eP-CSCF follows standard
  IMS procedures to further process the session. This applies to all originating sessions."

  alice's individual IMPU is allocated by the third party (option A); bob registers with his
  external identity and the eP-CSCF allocates his IMPU (option B). The eP-CSCF inserts the
  individual IMPU as P-Asserted-Identity and sends the session on the Service-Route of the
  block registration, towards the S-CSCF (solution profile).

  Background:
    Given the wIMPU stack is running with the reference profile
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: Steps 1 and 3 - the WIC originates with the identity used during its registration, and the eP-CSCF performs standard IMS session origination

    Step 1 puts the "shall" on the WIC; the text does not say what the eP-CSCF does with a WIC
    that breaks it. Standard origination (step 3) asserts only the registered identity; the
    refusal, and its code, are the solution profile's (open point 19).

    @step_1 @step_3 @TP_WIMPU_ORIG_001
    Scenario Outline: A session started with the registered identity reaches the remote party through the S-CSCF
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party with the identity of <user>
      Then the eP-CSCF answers 200
      And the INVITE reaches the remote party through the eP-CSCF and the S-CSCF
      And the INVITE captured from the eP-CSCF to the S-CSCF is routed by the Service-Route of the registration of the block of <user>
      And the INVITE reaching the remote party carries the From header field exactly as WIC "<wic>" sent it

      @option_a
      Examples: identity allocated by the third party
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: external identity, IMPU allocated by the eP-CSCF
        | user | wic |
        | bob  | B1  |

    @step_1 @step_3 @TP_WIMPU_ORIG_001
    Scenario Outline: A session a WIC of each client family starts with the registered identity reaches the remote party through the S-CSCF
      The same origination in the SIP of three client families (docs/dialects.md): each
      writes its INVITE its own way (its own first CSeq, the Contact with ;ob for JsSIP and
      SIP.js, with a display name and feature tags for the sipML5-like client, rport in its
      Via), and acknowledges the 200 on the route set. JsSIP and the sipML5-like client put
      the WWSF token (Authorization: Bearer) on every request, the INVITE and the ACK too; the
      token is for the eP-CSCF that validates it (5.2.2.5.2 step 4) and must not go on into
      the IMS core (rule TOKEN_CONFINED, checked on the capture).

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> speaks SIP as <client> does
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party with the identity of <user>
      Then the eP-CSCF answers 200
      And the INVITE reaches the remote party through the eP-CSCF and the S-CSCF
      And the INVITE captured from the eP-CSCF to the S-CSCF is routed by the Service-Route of the registration of the block of <user>
      And the INVITE reaching the remote party carries the From header field exactly as WIC "<wic>" sent it
      And the capture of the session passes the verify rules TOKEN_CONFINED

      @dialect_jssip @option_a
      Examples: JsSIP 3.13, identity allocated by the third party
        | user  | wic | client     |
        | alice | A1  | JsSIP 3.13 |

      @dialect_jssip @option_b
      Examples: JsSIP 3.13, IMPU allocated by the eP-CSCF
        | user | wic | client     |
        | bob  | B1  | JsSIP 3.13 |

      @dialect_sipjs @option_a
      Examples: SIP.js 0.21, identity allocated by the third party
        | user  | wic | client      |
        | alice | A1  | SIP.js 0.21 |

      @dialect_sipjs @option_b
      Examples: SIP.js 0.21, IMPU allocated by the eP-CSCF
        | user | wic | client      |
        | bob  | B1  | SIP.js 0.21 |

      @dialect_sipml5 @option_a
      Examples: a sipML5-like client, identity allocated by the third party
        | user  | wic | client               |
        | alice | A1  | a sipML5-like client |

      @dialect_sipml5 @option_b
      Examples: a sipML5-like client, IMPU allocated by the eP-CSCF
        | user | wic | client               |
        | bob  | B1  | a sipML5-like client |

    @step_1 @step_3 @registrar_read @TP_WIMPU_ORIG_009
    Scenario Outline: A session to an ordinary IMS user of the same network reaches the user's UE, asserting the WIC's IMPU
      A session to a subscriber of the IMS network itself: standard IMS origination (step 3) and
      termination, with no W7 query (carol's domain is not a webRTC domain, 5.2.2.5.4 step 1).

      Given the IMS user "sip:carol@ims.example.net" has registered with the S-CSCF from its own UE
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the IMS user "sip:carol@ims.example.net" with the identity of <user>
      Then the eP-CSCF answers 200
      And the INVITE captured from the eP-CSCF to the S-CSCF is routed by the Service-Route of the registration of the block of <user>
      And the session reaches the IMS user "sip:carol@ims.example.net"
      And the INVITE reaching the IMS user "sip:carol@ims.example.net" asserts the individual IMPU of <user>
      And the I-CSCF made no query to the wIMPU Registrar

      @option_a
      Examples: identity allocated by the third party
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: external identity, IMPU allocated by the eP-CSCF
        | user | wic |
        | bob  | B1  |

    @step_3 @negative @TP_WIMPU_ORIG_010
    Scenario Outline: A Route the WIC preloaded does not steer its session: the eP-CSCF replaces it with the Service-Route, or refuses the session
      Standard IMS origination (step 3) is the P-CSCF's of TS 24.229 5.2.6.3.3: a Route set the
      UE preloaded that is not the Service-Route of its registration is replaced by the
      Service-Route, or the request is rejected with 400 (Bad Request). A WIC page cannot have
      its session relayed past the S-CSCF, or to a node of its choosing.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party with the identity of <user> and the preloaded Route "sip:steer@evil.example.com;lr"
      Then the eP-CSCF either refuses the session with 400 or sends it to the S-CSCF on the Service-Route of the block of <user> alone, without the Route "sip:steer@evil.example.com;lr"

      @option_a
      Examples: identity allocated by the third party
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: external identity, IMPU allocated by the eP-CSCF
        | user | wic |
        | bob  | B1  |

    @step_1 @negative @TP_WIMPU_ORIG_004
    Scenario Outline: A session started with an identity the WIC did not register is never asserted, and refused
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party as "<other identity>"
      Then no INVITE of the session asserts "<other identity>"
      And the eP-CSCF refuses the session with 403 and no INVITE reaches the remote party, as the solution profile chooses (PROFILE_ORIG_IDENTITY_403)

      @option_a
      Examples: another individual IMPU of the block
        | user  | wic | other identity                          |
        | alice | A1  | sip:wrtc-mallory@block1.ims.example.net |

      @option_b
      Examples: another external identity of the domain
        | user | wic | other identity         |
        | bob  | B1  | sip:eve@enterprise.com |

  Rule: Step 3 - standard IMS origination: a session the WIC cancels before it is answered ends at the remote party too

    A WIC may CANCEL the INVITE it sent once a provisional response came (RFC 3261 9.1). The
    eP-CSCF, a proxy on the path of the standard origination (5.2.2.5.3 "the eP-CSCF follows
    standard IMS procedures"; TS 24.229 5.2.6.3), answers the CANCEL 200 and cancels the
    INVITE it forwarded (RFC 3261 16.10), so the remote party stops ringing and the WIC's
    INVITE ends with the remote party's 487, which the WIC acknowledges.

    @step_3 @TP_WIMPU_ORIG_007
    Scenario Outline: A session the WIC cancels while the remote party rings is cancelled at the remote party
      Given the remote IMS party rings and does not answer
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party and cancels it when it rings
      Then the eP-CSCF answers the CANCEL with 200
      And the remote party receives the CANCEL of the session through the eP-CSCF and the S-CSCF
      And WIC "<wic>" receives 487 for its INVITE

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

  Rule: Step 1 - a WIC that has de-registered no longer originates with the identity of that registration

    The registration is what authorises a WIC to originate (5.2.2.3.2: "The eP-CSCF shall
    perform the WIC authorization at WIC registration"): once the WIC has de-registered, the
    identity is no longer "the same identity used during the WIC registration" of a live
    registration, and its INVITE must not enter the IMS core, although the WebSocket stays open.

    @step_1 @negative @inopportune @TP_WIMPU_ORIG_006
    Scenario Outline: A session started by a WIC after its de-registration is refused and not relayed
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      And WIC "<wic>" has de-registered
      When WIC "<wic>" starts a session to the remote party with the identity of <user>
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no INVITE reaches the S-CSCF or the remote party

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

  Rule: Step 1 - a WIC originates only over the WebSocket its registration came on

    "The identity used during the WIC registration" (step 1) is the identity a registration
    over this WIC's WebSocket holds: the WIC authorisation happens at registration (5.2.2.3.2)
    and authorises the WebSocket it came over. A page that opened a WSS connection and
    registered nothing is no registered WIC, even when it writes the From of a user another
    WIC registered over its own WebSocket; in option B the registration context the eP-CSCF
    reads over W6 (step 2) names the contacts and their flows, and a live registration of the
    identity elsewhere authorises nothing on this WebSocket. Its INVITE must not enter the IMS
    core.

    @step_1 @negative @inopportune @TP_WIMPU_ORIG_018
    Scenario Outline: A session started from a WebSocket that registered nothing, with the identity another WIC registered, is refused and not relayed
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      And WIC "M1" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "M1" starts a session to the remote party with the identity of <user>
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no INVITE reaches the S-CSCF or the remote party

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

  Rule: Step 2 - when the eP-CSCF allocated the IMPU, it retrieves the registration context, includes the allocated individual IMPU and leaves the From field untouched

    @step_2 @option_b @registrar_read @TP_WIMPU_ORIG_002
    Scenario: The eP-CSCF asserts the IMPU it allocated and keeps the external identity in From
      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      When WIC "B1" starts a session to the remote party with the identity of bob
      Then the eP-CSCF answers 200
      And the eP-CSCF queried the wIMPU Registrar for the session
      And the INVITE reaching the remote party asserts the individual IMPU of bob
      And the INVITE reaching the remote party carries the From header field exactly as WIC "B1" sent it
      And the INVITE captured from the eP-CSCF to the S-CSCF asserts the individual IMPU of bob and carries the From header field exactly as WIC "B1" sent it

    @step_2 @timer @fault_injection @registrar_read @option_b @TP_WIMPU_ORIG_015
    Scenario: A session of an option B WIC goes no further than the eP-CSCF while the wIMPU Registrar does not answer, and goes on once it does
      5.2.2.5.3: "the eP-CSCF shall first retrieve the registration context for the WIC from the
      wIMPU Registrar. Following that, the eP-CSCF follows standard IMS procedures". A registrar
      that has stopped answering (a hung process: it accepts the connection and the request and
      answers nothing) gives no context, so nothing may go on to the S-CSCF: not with an identity
      the eP-CSCF made up, nor with one it kept from the registration (ORIG_W6_OPTION_B: the W6
      read answered, 2xx or 404, before the INVITE goes on). The WIC waits as long as its INVITE
      transaction lives (RFC 3261 17.1.1.2: Timer B, 64*T1 = 32 s). That the eP-CSCF answers it
      first, with 503 (RFC 3261 21.5.4, temporarily unable), is the solution profile's choice.
      Once the registrar answers again, the same WIC's session goes on with the allocated IMPU.

      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      And the wIMPU Registrar has stopped answering
      When WIC "B1" starts a session to the remote party with the identity of bob and waits until its transaction times out
      Then no INVITE reaches the S-CSCF or the remote party
      And the eP-CSCF answers 503, as the solution profile chooses (PROFILE_ORIG_W6_UNAVAILABLE)
      When the wIMPU Registrar answers again
      And WIC "B1" starts a session to the remote party with the identity of bob
      Then the eP-CSCF answers 200
      And the eP-CSCF queried the wIMPU Registrar for the session
      And the INVITE captured from the eP-CSCF to the S-CSCF asserts the individual IMPU of bob and carries the From header field exactly as WIC "B1" sent it

  Rule: Step 2 does not apply when the third party allocated the IMPU - standard originating IMS procedures apply

    @step_2 @option_a @registrar_read @TP_WIMPU_ORIG_003
    Scenario: The eP-CSCF asserts the registered IMPU without querying the wIMPU Registrar
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      When WIC "A1" starts a session to the remote party with the identity of alice
      Then the eP-CSCF answers 200
      And the eP-CSCF made no query to the wIMPU Registrar for the session, as the solution profile chooses (PROFILE_ORIG_OPTA_NO_W6)
      And the INVITE reaching the remote party asserts the individual IMPU of alice

  Rule: Steps 2 and 3 - the identity the eP-CSCF asserts is its own, whatever the WIC writes

    Standard IMS origination (TS 24.229 5.2.6.3.3, RFC 3325 9.1) has the P-CSCF remove a
    P-Asserted-Identity its UE wrote and assert the identity itself; in option B step 2 has
    the eP-CSCF include the allocated IMPU.

    @step_2 @step_3 @negative @TP_WIMPU_ORIG_005
    Scenario Outline: A P-Asserted-Identity written by the WIC is replaced by the registered IMPU
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party with the identity of <user> asserting "<claimed>"
      Then the eP-CSCF answers 200
      And the INVITE captured from the eP-CSCF to the S-CSCF asserts only the individual IMPU of <user>
      And the capture of the session passes the verify rules ORIG_PAI_IMPU

      @option_a
      Examples: another individual IMPU of the block
        | user  | wic | claimed                                 |
        | alice | A1  | sip:wrtc-mallory@block1.ims.example.net |

      @option_b
      Examples: an IMPU of another block
        | user | wic | claimed                                 |
        | bob  | B1  | sip:wrtc-alice@block1.ims.example.net   |

    @step_3 @negative @TP_WIMPU_ORIG_008
    Scenario Outline: A P-Preferred-Identity the WIC did not register is not asserted
      TS 24.229 5.2.6.3.3 and RFC 3325 9.2: the eP-CSCF honours a P-Preferred-Identity only
      for an identity the WIC registered. Whether it then asserts the registered IMPU or
      refuses the session is not the text's to say (the reference refuses it with 403);
      that the claimed identity is never asserted, on any leg, is.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party with the identity of <user> preferring "<claimed>"
      Then no INVITE of the session asserts "<claimed>"

      @option_a
      Examples: another individual IMPU of the block
        | user  | wic | claimed                                 |
        | alice | A1  | sip:wrtc-mallory@block1.ims.example.net |

      @option_b
      Examples: an IMPU of another block
        | user | wic | claimed                                 |
        | bob  | B1  | sip:wrtc-alice@block1.ims.example.net   |
