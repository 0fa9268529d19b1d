@termination @i_cscf @ep_cscf @clause_5_2_2_5_4
Feature: 5.2.2.5.4 Termination
  TR 23.701 5.2.2.5.4: "For terminating sessions arriving at the I-CSCF, the I-CSCF shall
  validate the registration status of the called IMPU by querying the wIMPU Registrar for that
  purpose. If the user is registered, the I-CSCF performs the standard IMS procedures for
  terminating sessions starting with the HSS query. If the user is not registered, the I-CSCF
  shall reject the session with the appropriate code." The query "shall be performed by the
  I-CSCF based on configured domains associated with the called individual IMPU".

  The I-CSCF of the reference profile is configured with the webRTC domains
  block1.ims.example.net, block2.ims.example.net and enterprise.com (the external identities
  of block2, option B). carol is an ordinary IMS subscriber of ims.example.net. The
  appropriate codes are the solution profile's: 480 for a webRTC user who is not registered,
  404 for an identity in no wIMPU block.

  Background:
    Given the wIMPU stack is running with the reference profile
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: Steps 1-5 - a session for a registered webRTC user is validated at the I-CSCF, routed by standard IMS procedures and delivered by the eP-CSCF to the WIC

    @step_1 @step_2 @step_3 @step_4 @step_5 @registrar_read @TP_WIMPU_TERM_001
    Scenario Outline: A session to a registered webRTC user reaches its WIC
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls <user>
      Then the remote party receives 200
      And the I-CSCF queried the wIMPU Registrar for the called identity
      And the eP-CSCF fetched the contacts of the called IMPU from the wIMPU Registrar
      And the INVITE reaches WIC "<wic>" through the I-CSCF, the S-CSCF and the eP-CSCF
      And WIC "<wic>" receives the INVITE with P-Called-Party-ID carrying the identity <user> registered with, as the solution profile chooses (PROFILE_TERM_PCPID)

      @option_a
      Examples: called by the individual IMPU the third party allocated
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: called by the external identity
        | user | wic |
        | bob  | B1  |

    @step_1 @step_2 @step_3 @step_4 @step_5 @registrar_read @TP_WIMPU_TERM_001
    Scenario Outline: A session to a registered webRTC user reaches its WIC, whatever client family it is
      The same termination to a WIC of each of three client families (docs/dialects.md),
      registered in its own SIP: JsSIP and SIP.js answer 100 Trying, then 180 with their
      Contact, then 200 with their Allow; SIP.js's contact has no +sip.instance or reg-id;
      the sipML5-like client's Contact has the registered identity's user part, a display
      name and feature tags. The eP-CSCF delivers the session over the WIC's own WebSocket
      whatever its Contact says (5.2.2.5.4 step 5).

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> speaks SIP as <client> does
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls <user>
      Then the remote party receives 200
      And the I-CSCF queried the wIMPU Registrar for the called identity
      And the eP-CSCF fetched the contacts of the called IMPU from the wIMPU Registrar
      And the INVITE reaches WIC "<wic>" through the I-CSCF, the S-CSCF and the eP-CSCF
      And WIC "<wic>" receives the INVITE with P-Called-Party-ID carrying the identity <user> registered with, as the solution profile chooses (PROFILE_TERM_PCPID)

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

  Rule: Step 1 - the I-CSCF identifies sessions for webRTC users by the configured domains

    @step_1 @TP_WIMPU_TERM_002
    Scenario: A session to a user of a domain that is not a webRTC domain is routed without querying the wIMPU Registrar
      Given the IMS user "sip:carol@ims.example.net" has registered with the S-CSCF from its own UE
      When the remote party calls "sip:carol@ims.example.net"
      Then the remote party receives 200
      And the I-CSCF made no query to the wIMPU Registrar
      And the session reaches the IMS user "sip:carol@ims.example.net"

    @step_1 @step_2 @registrar_read @TP_WIMPU_TERM_008
    Scenario Outline: A session to a registered webRTC user whose domain is written in capitals reaches its WIC
      The configured domains are host names, which SIP compares without regard to case (RFC
      3261 19.1.4): a called identity whose domain is a webRTC domain written in other capitals
      is a webRTC user's, queried in the wIMPU Registrar and reached.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls "<called>"
      Then the remote party receives 200
      And the I-CSCF queried the wIMPU Registrar for the called identity
      And the INVITE reaches WIC "<wic>" through the I-CSCF, the S-CSCF and the eP-CSCF

      @option_a
      Examples: an individual IMPU of a block
        | user  | wic | called                                  |
        | alice | A1  | sip:wrtc-alice@BLOCK1.IMS.Example.NET   |

      @option_b
      Examples: an external identity of a webRTC domain
        | user | wic | called                 |
        | bob  | B1  | sip:bob@Enterprise.COM |

  Rule: Step 2 - a session for a webRTC user who is not registered is rejected by the I-CSCF

    @step_2 @negative @TP_WIMPU_TERM_003
    Scenario Outline: A session to a webRTC user who is not registered is rejected
      When the remote party calls <user>
      Then the I-CSCF queried the wIMPU Registrar for the called identity
      And the I-CSCF rejects the session
      And the I-CSCF rejects the session with 480, as the solution profile chooses (PROFILE_TERM_REJECT_CODE)

      @option_a
      Examples: an individual IMPU of a block
        | user  |
        | alice |

      @option_b
      Examples: an external identity of a webRTC domain
        | user |
        | bob  |

    @step_2 @negative @TP_WIMPU_TERM_004
    Scenario: A session to an identity of a webRTC domain that belongs to no wIMPU block is rejected
      When the remote party calls "sip:nobody@block1.ims.example.net"
      Then the I-CSCF queried the wIMPU Registrar for the called identity
      And the I-CSCF rejects the session
      And the I-CSCF rejects the session with 404, as the solution profile chooses (PROFILE_TERM_REJECT_CODE)

    @step_2 @negative @registrar_read @TP_WIMPU_TERM_006
    Scenario Outline: A session to an unregistered identity that begins like a registered user's identity is rejected
      The registration status is that of the called identity itself: W7 compares identities as
      SIP URIs (RFC 3261 19.1.4), so a called identity that only begins like a registered one
      is not registered.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls "<called>"
      Then the I-CSCF queried the wIMPU Registrar for the called identity
      And the I-CSCF rejects the session
      And WIC "<wic>" receives no INVITE

      @option_a
      Examples: an individual IMPU of a block
        | user  | wic | called                               |
        | alice | A1  | sip:wrtc-ali@block1.ims.example.net  |

      @option_b
      Examples: an external identity of a webRTC domain
        | user | wic | called                |
        | bob  | B1  | sip:bo@enterprise.com |

    @step_2 @negative @fault_injection @registrar_read @option_a @TP_WIMPU_TERM_016
    Scenario: A session to a webRTC user is not routed on by the I-CSCF while the wIMPU Registrar does not answer its query
      Step 2 has the I-CSCF validate the registration status with the wIMPU Registrar, and step 3
      route the session on when the user is registered. A registrar that does not answer (a hung
      process: the connection and the W7 query accepted, nothing answered) has validated nothing:
      the I-CSCF must not route the session to the S-CSCF as if it had. What it answers the
      caller, and when, the text does not say; that the session is not set up, it does. (An
      individual IMPU of a block: an I-CSCF that took the status for granted could route it; an
      external identity it could not, without W7's answer naming the IMPU.)

      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And the wIMPU Registrar has stopped answering
      When the remote party calls alice
      Then the remote party receives exactly one final response, not a 2xx
      And no INVITE goes from the I-CSCF to the S-CSCF
      And WIC "A1" receives no INVITE

    @step_2 @inopportune @registrar_read @TP_WIMPU_TERM_007
    Scenario Outline: A session to a webRTC user who was reached before and has de-registered since is rejected at the I-CSCF
      The I-CSCF validates the registration status of every terminating session for a webRTC
      domain (step 2), also of a user it found registered before: a WIC that de-registered is
      not reached, and the session is rejected at the I-CSCF, not carried to the eP-CSCF.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      And the remote party has called <user> and WIC "<wic>" has answered
      And WIC "<wic>" has de-registered
      When the remote party calls <user>
      Then the I-CSCF queried the wIMPU Registrar for the called identity
      And the I-CSCF rejects the session

      @option_a
      Examples: an individual IMPU of a block
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: an external identity of a webRTC domain
        | user | wic |
        | bob  | B1  |

  Rule: Step 4 - the contact information is the wIMPU Registrar's when the session reaches the eP-CSCF

    The I-CSCF checks the registration over W7 (step 2) before the session reaches the eP-CSCF
    (step 3); step 4 "fetches the contact information for the individual IMPU from the wIMPU
    registrar" when the session is at the eP-CSCF. To put something between the two, the S-CSCF
    (the tester's IMS core: the suite's own, in-process or emulated) holds the session for a
    moment after the I-CSCF routed it.

    @step_4 @step_5 @negative @inopportune @TP_WIMPU_TERM_013
    Scenario Outline: A session for a WIC that de-registers after the I-CSCF's check reaches no WIC
      The user's only WIC de-registers between the I-CSCF's check and the session's arrival at
      the eP-CSCF; its WebSocket stays open. The wIMPU Registrar then holds no contact for the
      IMPU, so step 5 delivers the session to no WIC ("the WIC associated with the individual
      IMPU"), and the eP-CSCF refuses it (RFC 3261 16.5: an empty target set is answered with an
      error; that it is 480 is RFC 3261's preference, not checked).

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls <user> while WIC "<wic>" de-registers between the I-CSCF and the eP-CSCF
      Then the S-CSCF routes the session on to the eP-CSCF
      And the eP-CSCF refuses the session
      And WIC "<wic>" receives no INVITE
      And the remote party receives no 2xx
      And the capture of the session passes the verify rules TERM_W6_CONTACTS and TERM_ONLY_REGISTERED

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

    @step_4 @timer @fault_injection @TP_WIMPU_TERM_014
    Scenario Outline: A session that reaches the eP-CSCF while the wIMPU Registrar does not answer reaches no WIC, and reaches it once the registrar answers
      The wIMPU Registrar stops answering (a hung process) after the I-CSCF's check. Step 4 then
      fetches no contact information, so step 5 has none to deliver to: no INVITE may reach a
      WIC from what the eP-CSCF remembers (TERM_W6_CONTACTS: a W6 read answered, 2xx or 404, before the
      first delivery). The caller waits as long as its INVITE transaction lives (RFC 3261
      17.1.1.2: Timer B, 64*T1 = 32 s); that the eP-CSCF answers first, with 503 (RFC 3261
      21.5.4), is the solution profile's choice. Once the registrar answers again, the next
      session reaches the WIC.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the remote party calls <user> while the wIMPU Registrar stops answering between the I-CSCF and the eP-CSCF, and waits until its transaction times out
      Then the S-CSCF routes the session on to the eP-CSCF
      And WIC "<wic>" receives no INVITE
      And the remote party receives no 2xx
      And the eP-CSCF answers the session 503, as the solution profile chooses (PROFILE_TERM_W6_UNAVAILABLE)
      When the wIMPU Registrar answers again
      And the remote party calls <user>
      Then the remote party receives 200
      And the eP-CSCF fetched the contacts of the called IMPU from the wIMPU Registrar
      And the INVITE reaches WIC "<wic>" through the I-CSCF, the S-CSCF and the eP-CSCF

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

  Rule: 5.2.2.5.3 then steps 1-5 - a session from one webRTC user to another goes out through the caller's eP-CSCF and comes back in through the I-CSCF

    A WIC originates with the identity it registered (5.2.2.5.3 step 1); its eP-CSCF sends the
    session on by standard IMS origination (step 3) to the S-CSCF, which routes the called
    identity, one of a webRTC domain, to the I-CSCF (5.2.2.5.4 step 1: DNS is configured "to
    ensure that terminating sessions to third party domains are routed to the I-CSCF"). From
    there the session is terminated as any other: the W7 query (step 2), the S-CSCF of the
    called user's block (step 3), the W6 read of its eP-CSCF (step 4) and the WIC (step 5).
    alice (option A) and bob (option B) are in different blocks, each with its own eP-CSCF.

    @clause_5_2_2_5_3 @clause_5_2_2_5_4 @step_1 @step_2 @step_3 @step_4 @step_5 @option_a @option_b @TP_WIMPU_TERM_005
    Scenario Outline: A session from a WIC to another webRTC user reaches that user's WIC
      Given <caller> has logged in at the WWSF and received a security token
      And WIC "<caller wic>" of <caller> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<caller wic>" has registered with the identity and the token of <caller>
      And <called> has logged in at the WWSF and received a security token
      And WIC "<called wic>" of <called> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<called wic>" has registered with the identity and the token of <called>
      When WIC "<caller wic>" starts a session to <called> with the identity of <caller>
      Then WIC "<caller wic>" receives 200 for its INVITE
      And the I-CSCF queried the wIMPU Registrar for the called identity
      And the INVITE reaches WIC "<called wic>" through the eP-CSCF, the S-CSCF, the I-CSCF, the S-CSCF and the eP-CSCF

      Examples:
        | caller | caller wic | called | called wic |
        | alice  | A1         | bob    | B1         |
        | bob    | B1         | alice  | A1         |

  Rule: Steps 1-5 - a session from an ordinary IMS user of the same network reaches a webRTC user the same way

    carol, an IMS subscriber of ims.example.net registered from her own UE, calls a webRTC user:
    her S-CSCF routes the webRTC domain to the I-CSCF (step 1: "DNS be configured to ensure that
    terminating sessions to third party domains are routed to the I-CSCF"), which validates the
    registration over W7 (step 2) before the standard terminating procedure (steps 3-5).

    @step_1 @step_2 @step_3 @step_4 @step_5 @registrar_read @TP_WIMPU_TERM_009
    Scenario Outline: A session from an ordinary IMS user to a registered webRTC user reaches its WIC
      Given the IMS user "sip:carol@ims.example.net" has registered with the S-CSCF from its own UE
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When the IMS user "sip:carol@ims.example.net" calls <user>
      Then the IMS user receives 200
      And the I-CSCF queried the wIMPU Registrar for the called identity
      And the INVITE reaches WIC "<wic>" through the S-CSCF, the I-CSCF, the S-CSCF and the eP-CSCF

      @option_a
      Examples: called by the individual IMPU the third party allocated
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples: called by the external identity
        | user | wic |
        | bob  | B1  |

  Rule: Step 5 - the eP-CSCF delivers the session to the WIC, and a WIC's answer asserts no identity the WIC wrote

    The WIC is outside the IMS trust domain: the eP-CSCF authorised it at registration for the
    identity it registered (5.2.2.3.2) and delivers it the session of that identity (step 5).
    Standard IMS termination (TS 24.229 5.2.6.4; RFC 3325 9.1: a proxy removes or replaces a
    P-Asserted-Identity that comes from outside the trust domain) keeps a P-Asserted-Identity the
    WIC writes into its 180 or 200 from entering the core: the remote party would take the
    answering party for someone else. What the eP-CSCF asserts instead, if anything, the text
    does not say; the called identity is never wrong.

    @step_5 @negative @TP_WIMPU_TERM_017
    Scenario Outline: A P-Asserted-Identity a WIC writes into its answer does not reach the IMS core
      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      And WIC "<wic>" writes P-Asserted-Identity "<claimed>" into its answers
      When the remote party calls <user>
      Then the remote party receives 200
      And no answer the eP-CSCF relays into the IMS core asserts "<claimed>"

      @option_a
      Examples: another individual IMPU of the block
        | user  | wic | claimed                                 |
        | alice | A1  | sip:wrtc-mallory@block1.ims.example.net |

      @option_b
      Examples: an ordinary IMS user of the network
        | user | wic | claimed                         |
        | bob  | B1  | sip:carol@ims.example.net       |

  Rule: Step 5 and the standard procedures (RFC 3261 12.2.1.1, 16; RFC 5626 5.3) - a request of a session goes to the WIC that answered it, over its WebSocket

    Step 5 delivers the session to the WIC; every later request of that session follows the
    dialog: its Request-URI is the answering WIC's remote target and its route set ends at the
    eP-CSCF, whose Record-Route names the WIC's flow (RFC 3261 12.2.1.1 and 16.12; RFC 5626 5.3,
    the standard procedures the text relies on). While that WebSocket is open, the eP-CSCF sends
    the request over it, whatever other WICs the user has registered, and the WIC's answer comes
    back to the core. The user's other WIC, which never joined the dialog, gets nothing. A BYE and
    an INFO (a request that does not end the dialog) are both requests of the core in the dialog.

    @step_5 @TP_WIMPU_TERM_015
    Scenario Outline: A request of a session reaches the WIC that answered it, not the user's other WICs
      Given <user> has registered from 2 WICs
      And WIC 2 of <user> answers first and every other WIC of that user later
      And the remote party has called <user> and WIC 2 of that user has answered
      When the remote party sends a <method> in its session
      Then WIC 2 of <user> receives the <method>
      And WIC 1 of <user> receives no <method>
      And the remote party receives 200

      @option_a
      Examples:
        | user  | method |
        | alice | BYE    |

      @option_b
      Examples:
        | user | method |
        | bob  | INFO   |

    @step_3 @i_cscf @TP_WIMPU_TERM_019
    Scenario: A request of a session that the caller sends to the I-CSCF goes on along its Route
      The I-CSCF's procedure of step 3 is for the session's initial INVITE, and it record-routes
      nothing: the route set of the session names the S-CSCF and the eP-CSCF. A caller with one
      connection to the IMS entry point (SIPp over TCP) sends its requests of the dialog there
      all the same, their Route the route set (RFC 3261 8.1.2). The solution profile has the I-CSCF
      send such a request on to the next hop of its Route, removing only a first Route value that
      names the I-CSCF itself (RFC 3261 16.4): a profile check, the text says nothing of them.
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And the remote party has called alice and WIC "A1" has answered
      When the remote party sends a BYE in its session through the I-CSCF
      Then the I-CSCF sends the BYE on along its Route to WIC "A1", whose 200 reaches the remote party, as the solution profile chooses (PROFILE_TERM_ICSCF_IN_DIALOG_ROUTE)

  Rule: Step 5 and the standard procedures (RFC 3261 12.1.1, 12.2.1.1, 16.12) - a request the WIC that answered sends in its session reaches the remote party

    The other direction of the rule above. The WIC that answered is the session's callee: it sends
    its own requests of the dialog on the route set the INVITE's Record-Route gave it, in order
    (RFC 3261 12.1.1), first hop the eP-CSCF, which relays it on through the nodes of the core that
    record-routed to the remote party (TS 24.229 5.2.7.2 for the P-CSCF, the standard procedure the
    text relies on); the remote party answers it, and the answer comes back to the WIC. A node that
    put itself into the route set and then refuses the request, or an eP-CSCF that does not follow
    the route set of a session it delivered, leaves the callee unable to end or use its session.

    @step_5 @TP_WIMPU_TERM_018
    Scenario Outline: A request the WIC that answered sends in its session reaches the remote party
      Given <user> has registered from 2 WICs
      And WIC 2 of <user> answers first and every other WIC of that user later
      And the remote party has called <user> and WIC 2 of that user has answered
      When WIC 2 of <user> sends a <method> in the session it was offered
      Then the remote party receives the <method> of WIC 2 of <user> in its session
      And WIC 2 of <user> receives 200 for its <method>

      @option_a
      Examples:
        | user  | method |
        | alice | BYE    |

      @option_b
      Examples:
        | user | method |
        | bob  | INFO   |

  Rule: Step 5 and the standard procedures (RFC 3261 12.2.1.1, 16; RFC 5626 5.3) - a request of a session whose WIC's WebSocket has closed goes to no other WIC

    Step 5 delivers the session to the WIC; every later request of that session follows the
    dialog: its Request-URI is the WIC's remote target and its route set ends at the eP-CSCF,
    whose Record-Route names the WIC's flow (RFC 3261 12.2.1.1, 16; RFC 5626 5.3, the standard
    procedures the text relies on). Once that WebSocket has closed, the request has nowhere to go;
    retargeting it to another WIC of the user would put that WIC in a dialog it never joined. RFC
    5626 5.3: "If the flow no longer exists, the proxy SHOULD send a 430 (Flow Failed) response";
    answering so, before the caller's transaction times out, is the solution profile's choice.
    The eP-CSCF is known to have seen the close once it has removed the closed WebSocket's contact
    (the profile's choice too: a SUT that keeps it is not waited for).

    @step_5 @inopportune @registrar_read @TP_WIMPU_LIFE_011
    Scenario Outline: A request of a session whose WIC's WebSocket has closed reaches none of the user's other WICs
      Given <user> has registered from 2 WICs
      And WIC 1 of <user> answers first and every other WIC of that user later
      And the remote party has called <user> and WIC 1 of that user has answered
      When WIC 1 of <user> closes its WebSocket
      Then the wIMPU Registrar drops the contact of WIC 1 of <user>, as the solution profile chooses (PROFILE_LIFE_CLOSE_REMOVES)
      When the remote party sends a BYE in its session
      Then WIC 2 of <user> receives no BYE
      And the remote party receives 430, as the solution profile chooses (PROFILE_LIFE_DEAD_FLOW_430)

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |
