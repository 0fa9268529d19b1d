@security @ep_cscf @clause_5_2_2_5_2
Feature: 5.2.2.5.2 WIC authorisation at the eP-CSCF
  Step 2: "Standard cross-origin resource sharing (CORS) procedures are used to ensure
  that the WIC originated from a WWSF authorized to access this eP-CSCF."
  Step 4: "The eP-CSCF shall validate the contents of the security token in relation to
  the user identity." 5.2.2.3.2: "The eP-CSCF shall perform the WIC authorization at WIC
  registration". A refused WIC leaves nothing in the wIMPU Registrar.

  The token is a JWT signed by the WWSF (solution profile). Step 4 leaves "the exact means"
  of the check out of scope: that the registration is not accepted and nothing is stored is
  the text's check; how the refusal is answered is the profile's (PROFILE_SEC_TOKEN_401: a
  missing token or one that fails a check is challenged, 401 with a Bearer challenge naming
  the WWSF and error "invalid_token" for a token that failed; PROFILE_SEC_REFUSAL_403: a
  valid token for another identity is forbidden). The stack's clock moves only when a
  scenario lets time pass.

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls

  Rule: Step 2 - only a WIC from an authorised WWSF may open a WSS connection

    @step_2 @negative @TP_WIMPU_SEC_001
    Scenario: A page from another origin is refused at the WebSocket handshake
      Given alice has logged in at the WWSF and received a security token
      When WIC "A1" of alice opens a WSS connection to the eP-CSCF of its block from origin "https://evil.example.com"
      Then the eP-CSCF refuses the WebSocket handshake with HTTP 403

    @step_2 @negative @TP_WIMPU_SEC_001
    Scenario Outline: A page from an origin that only begins like the WWSF's is refused at the WebSocket handshake
      Origins compare whole (RFC 6454 4: scheme, host and port): a prefix is not the WWSF.

      Given alice has logged in at the WWSF and received a security token
      When WIC "A1" of alice opens a WSS connection to the eP-CSCF of its block from the WWSF's origin followed by "<suffix>"
      Then the eP-CSCF refuses the WebSocket handshake with HTTP 403

      Examples:
        | suffix             |
        | .evil.example.com  |
        | 0                  |

    @step_2 @negative @TP_WIMPU_SEC_017
    Scenario Outline: A WebSocket that does not offer the sip subprotocol is not opened for SIP
      RFC 7118 4.1: every SIP client offers the subprotocol "sip", and the 101 of the server
      selects it. A handshake that offers no "sip" (a page's new WebSocket(url) with no
      protocols, or another application's) is no SIP client's. RFC 6455 4.2.2 lets the server
      accept it with no subprotocol, never with one the client did not offer (a FAIL); the
      solution profile refuses it (a profile check, the code left open). The capture rule
      WSS_SUBPROTOCOL judges the handshake on the wire.

      Given alice has logged in at the WWSF and received a security token
      When WIC "A1" of alice opens a WSS connection to the eP-CSCF of its block offering <offer>
      Then the eP-CSCF refuses the WebSocket handshake, as the solution profile chooses (PROFILE_WSS_SIP_ONLY)

      Examples:
        | offer                        |
        | no subprotocol               |
        | only the subprotocol "chat"  |

  Rule: Step 4 - a REGISTER without a valid token for its identity is refused

    @step_4 @negative @registrar_read @TP_WIMPU_SEC_002
    Scenario: A REGISTER without a token is challenged
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity of alice and no token
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 401, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the response challenges for a Bearer token from the WWSF, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the wIMPU Registrar holds no registration for alice

    @step_4 @negative @registrar_read @TP_WIMPU_SEC_003
    Scenario: A valid token for another identity is refused
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers as "sip:wrtc-mallory@block1.ims.example.net" with the token of alice
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And the wIMPU Registrar holds no registration for "sip:wrtc-mallory@block1.ims.example.net"
      And the wIMPU Registrar holds no registration for alice

    @step_4 @negative @registrar_read @TP_WIMPU_SEC_003
    Scenario: A valid token for the identity in From does not register another identity in To
      The registered identity is the one in To (RFC 3261 10.2: From names who is responsible
      for the registration): the token must assert it, and nothing is registered for From.

      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers as "sip:wrtc-mallory@block1.ims.example.net" with the identity of alice in From and the token of that user
      Then the eP-CSCF does not accept the registration
      And the wIMPU Registrar holds no registration for "sip:wrtc-mallory@block1.ims.example.net"
      And the wIMPU Registrar holds no registration for alice

    @step_4 @negative @registrar_read
    Scenario Outline: A token that fails one check of its contents is refused
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity of alice and <token>
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 401, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the response says the security token is invalid, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the wIMPU Registrar holds no registration for alice

      @TP_WIMPU_SEC_004
      Examples: signature
        | token                                     |
        | a copy of its token signed by another key |

      @TP_WIMPU_SEC_006
      Examples: unsecured token
        | token                         |
        | an unsigned copy of its token |

      @TP_WIMPU_SEC_007
      Examples: audience
        | token                                       |
        | a token the WWSF issued for another eP-CSCF |

      # RFC 7519 4.1.5: a JWT "MUST NOT be accepted for processing" before its nbf. The copy keeps
      # every claim of the genuine token but nbf, ten minutes ahead, and the WWSF's own key (the
      # PIXIT's [wwsf] signing_key, checked against the genuine token) signs it again.
      @TP_WIMPU_SEC_016
      Examples: not yet valid
        | token                                               |
        | a copy of its token valid only ten minutes from now |

    # RFC 7519 4.1.4: a JWT "MUST NOT be accepted for processing" on or after its exp, but the
    # verifier "MAY provide for some small leeway, usually no more than a few minutes, to account
    # for clock skew". The token has expired ten minutes ago: beyond any such leeway. The connection
    # is opened after that, so that no SUT has closed it for being idle meanwhile.
    @step_4 @negative @registrar_read @TP_WIMPU_SEC_005
    Scenario: An expired token is refused
      Given alice has logged in at the WWSF and received a security token
      And the security token of alice has expired
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity and the token of alice
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 401, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the response says the security token is invalid, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the wIMPU Registrar holds no registration for alice

  Rule: 5.2.2.3.2 - the eP-CSCF applies these functions only to the domain names it is configured with

    An identity in no configured domain is not a webRTC user of the wIMPU solution: the eP-CSCF
    must not treat it as one (no registrar entry), and no subscription holds it (the blocks'
    are the only ones, 5.2.2 "single HSS subscription"), so its registration is refused. The
    code, 403, is the solution profile's (open point 16).

    @clause_5_2_2_3_2 @step_3 @negative @registrar_read @TP_WIMPU_SEC_008
    Scenario: An identity outside every wIMPU block is refused even with a valid token
      Given the WWSF has issued someone a security token for "sip:someone@unknown.example" to the eP-CSCF of block "sip:wrtc-!.*!@block1.ims.example.net"
      And WIC "S1" of someone has opened a WSS connection to the eP-CSCF of its block
      When WIC "S1" registers with the identity and the token of someone
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_FOREIGN_403)
      And the wIMPU Registrar holds no registration for "sip:someone@unknown.example"

  Rule: 5.2.2.3.2 - a WebSocket is authorised only by a registration, and only for its own dialogs

    The WIC authorisation happens at registration (5.2.2.3.2); every later request of a WIC
    rests on it. A request inside a session (here a BYE) is relayed only when it comes over
    the WebSocket that set the session up: copying another WIC's route set, Call-ID and
    tags is not enough (standard P-CSCF procedures, TS 24.229 5.2.6.3; RFC 5626 5.3). A WIC
    that was offered a session another WIC of its user answered (5.2.2.5.4 step 5: the
    session goes to the WIC that answers) is in no dialog either: its branch lost, and a
    request it sends as the session's callee is refused.

    @clause_5_2_2_5_3 @step_3 @negative @inopportune @TP_WIMPU_SEC_009
    Scenario: A request in another WIC's session from a WebSocket that never registered is refused
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And WIC "A1" has started a session to the remote party with the identity of alice
      And WIC "M1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "M1" sends a BYE in the session of WIC "A1"
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no BYE reaches the S-CSCF or the remote party

    @clause_5_2_2_5_3 @step_3 @negative @inopportune @TP_WIMPU_SEC_010
    Scenario: A request in a session set up over another WebSocket of the same user is refused
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And WIC "A1" has started a session to the remote party with the identity of alice
      And WIC "A2" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A2" has registered with the identity and the token of alice
      When WIC "A2" sends a BYE in the session of WIC "A1"
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no BYE reaches the S-CSCF or the remote party

    @clause_5_2_2_5_3 @step_3 @negative @TP_WIMPU_SEC_018
    Scenario: A request in the WIC's own session whose Route leads around the S-CSCF goes on only along the session's route set
      A session's route set is what the eP-CSCF and the S-CSCF recorded when it was set up (RFC
      3261 12.1.2). A WIC that writes its own Route past the eP-CSCF's entry could send requests
      carrying the identity the eP-CSCF asserts for it to any node, around the S-CSCF that
      serves its block. The solution profile relays a WIC's request in a dialog only to the next
      hop of the dialog's route set, anything else 403; an eP-CSCF that rebuilds the Route from
      the route set follows it too. Which check TS 24.229's P-CSCF makes here is open point 26:
      a profile check. Whatever became of that request, the session goes on: the WIC's BYE on
      its route set ends it (RFC 3261 12.2.1.2, a refused INFO ends no dialog).
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And WIC "A1" has started a session to the remote party with the identity of alice
      When WIC "A1" sends an INFO in its session with a Route that leads around the S-CSCF to the remote party
      Then the INFO goes on only along the session's route set, as the solution profile chooses (PROFILE_SEC_IN_DIALOG_ROUTE_SET)
      When WIC "A1" ends its session with a BYE
      Then the BYE reaches the remote party and WIC "A1" receives 200 for it

    @clause_5_2_2_5_3 @step_3 @negative @inopportune @TP_WIMPU_SEC_019
    Scenario Outline: A <method> that names no dialog, from a registered WIC, goes no further than the eP-CSCF
      A BYE or an INFO exists only in a dialog (RFC 3261 15.1.1, RFC 6086 4.2): one without a To
      tag names no dialog, so none the eP-CSCF record-routed on the WIC's WebSocket. The
      solution profile relays a WIC's request in a dialog only on such a dialog, anything else
      403 (PROFILE_SEC_DIALOG_METHODS): an eP-CSCF that tells a dialog by the To tag alone would
      send it into the IMS core as a new request, with the identity it asserts. RFC 3261 16 lets
      a proxy forward any request (the UAS then answers 481), so this is a profile check,
      judged on the wire by ORIG_DIALOG_METHOD_REFUSED.
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      When WIC "A1" sends a <method> that names no dialog to the remote party
      Then the <method> goes no further than the eP-CSCF, as the solution profile chooses (PROFILE_SEC_DIALOG_METHODS)

      Examples:
        | method |
        | BYE    |
        | INFO   |

    @clause_5_2_2_5_2 @step_4 @negative @inopportune @registrar_read @TP_WIMPU_SEC_013
    Scenario: A de-registration without a token from a WebSocket that no token authorised removes nothing
      The solution profile accepts a de-registration without the token over the WebSocket on
      which a valid token registered the identity (PROFILE_REG_DEREG_NO_TOKEN, TP_WIMPU_REG_005).
      A WebSocket that no token ever authorised is not a registered WIC (5.2.2.3.2: the WIC
      authorisation happens at registration): a de-registration it sends without a token, even
      one naming the contact another WIC registered, must not remove that contact.
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And WIC "M1" of alice speaks SIP as SIP.js 0.21 does
      And WIC "M1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "M1" de-registers the contact of WIC "A1"
      Then the eP-CSCF does not accept the registration
      And the wIMPU Registrar holds a registration for alice with 1 contact
      When the remote party calls alice
      Then the remote party receives 200
      And the INVITE reaches WIC "A1" through the I-CSCF, the S-CSCF and the eP-CSCF

    @clause_5_2_2_5_4 @step_5 @negative @inopportune @TP_WIMPU_SEC_012
    Scenario Outline: A request from a WIC whose branch of a forked session lost is refused
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And <user> has registered from 2 WICs
      And WIC 2 of <user> answers first and every other WIC of that user later
      And the remote party has called <user> and WIC 2 of that user has answered
      When WIC 1 of <user> sends a BYE in the session it was offered
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no BYE reaches the S-CSCF or the remote party

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.2 - a dialog that has ended authorises no more requests

    A dialog ends with the BYE that the other end answered 200 (RFC 3261 15.1.2): from then
    on it is no dialog of the WebSocket any more, and a second BYE on it is refused like a
    request in no dialog, rather than relayed into the core (TS 24.229 5.2.6.3; solution
    profile, "Reaching a WIC over its WebSocket": anything else is 403).

    @clause_5_2_2_5_3 @step_3 @negative @inopportune @TP_WIMPU_SEC_011
    Scenario: A request in a session the WIC has already ended is refused
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And WIC "A1" has started a session to the remote party with the identity of alice
      And WIC "A1" has ended its session with a BYE
      When WIC "A1" sends a BYE in the session of WIC "A1"
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no BYE reaches the S-CSCF or the remote party

    @clause_5_2_2_5_4 @step_5 @negative @inopportune @TP_WIMPU_SEC_014
    Scenario Outline: A request from a WIC in a session the remote party has ended is refused
      The twin of TP_WIMPU_SEC_011 for a dialog the other end ended: the remote party's BYE,
      answered 200 by the WIC, ends the dialog for both (RFC 3261 15.1.2); a request the WIC
      then sends in it is refused and reaches nothing.

      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And <user> has registered from 2 WICs
      And WIC 1 of <user> answers first and every other WIC of that user later
      And the remote party has called <user> and WIC 1 of that user has answered
      When the remote party sends a BYE in its session
      Then WIC 1 of <user> receives the BYE
      When WIC 1 of <user> sends an INFO in the session it was offered
      Then the eP-CSCF refuses the request
      And the eP-CSCF answers 403, as the solution profile chooses (PROFILE_SEC_REFUSAL_403)
      And no INFO reaches the S-CSCF or the remote party

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |
