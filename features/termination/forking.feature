@termination @ep_cscf @forking @clause_5_2_2_5_4
Feature: 5.2.2.5.4 Forking a terminating session to every WIC of the called IMPU
  TR 23.701 5.2.2.5.4: "For terminating sessions arriving at the eP-CSCF, the eP-CSCF queries
  the wIMPU Registrar for the contact information, the eP-CSCF shall fork the sessiosn to all
  contacts associated with a called IMPU". 5.2.2.3.2: the eP-CSCF "shall support forking if
  the called webRTC user has registered from multiple WICs".

  The eP-CSCF forks in parallel (RFC 3261 16.7): the first 2xx wins and every other branch is
  cancelled (16.7 step 10), with Reason: SIP;cause=200 (RFC 3326; the solution profile's choice
  PROFILE_FORK_CANCEL_REASON: the text's check is the CANCEL, and the Reason's text is free).
  In these scenarios every WIC would answer: the chosen one first, the others a little later.

  Background:
    Given the wIMPU stack is running with the reference profile
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: 5.2.2.3.2 - the eP-CSCF shall support forking if the called webRTC user has registered from multiple WICs

    @step_4 @step_5 @TP_WIMPU_FORK_001
    Scenario Outline: A session to a user registered from several WICs rings every WIC and the first answer wins
      Given <user> has registered from <count> WICs
      And WIC 2 of <user> answers first and every other WIC of that user later
      When the remote party calls <user>
      Then the remote party receives 200
      And every WIC of <user> receives the INVITE
      And every WIC of <user> but WIC 2 receives a CANCEL with the reason cause 200, as the solution profile chooses (PROFILE_FORK_CANCEL_REASON)
      And WIC 2 of <user> receives no CANCEL
      And the remote party receives exactly one 200
      And the capture of the session passes the verify rules TERM_FORK_ALL and TERM_FORK_CANCEL

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  | count |
        | alice | 2     |
        | alice | 3     |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user | count |
        | bob  | 2     |

    @step_4 @step_5 @TP_WIMPU_FORK_001 @dialect_jssip @dialect_sipjs @dialect_sipml5
    Scenario Outline: A session to a user registered from WICs of three client families rings each of them and the first answer wins
      Each WIC registers, rings, answers or is cancelled in the SIP of its own client family
      (docs/dialects.md): the eP-CSCF forks to every contact, whatever its Contact looks like
      (with or without +sip.instance and reg-id, a display name, feature tags), over its own
      WebSocket, and cancels every branch but the one that answered first.

      Given <user> has registered from 3 WICs speaking SIP as JsSIP 3.13, SIP.js 0.21 and a sipML5-like client, one each, in that order
      And WIC <winner> of <user> answers first and every other WIC of that user later
      When the remote party calls <user>
      Then the remote party receives 200
      And every WIC of <user> receives the INVITE
      And every WIC of <user> but WIC <winner> receives a CANCEL with the reason cause 200, as the solution profile chooses (PROFILE_FORK_CANCEL_REASON)
      And WIC <winner> of <user> receives no CANCEL
      And the remote party receives exactly one 200
      And the capture of the session passes the verify rules TERM_FORK_ALL and TERM_FORK_CANCEL

      @option_a
      Examples: the SIP.js WIC answers first
        | user  | winner |
        | alice | 2      |

      @option_b
      Examples: the sipML5-like WIC answers first
        | user | winner |
        | bob  | 3      |

  Rule: RFC 3261 16.10 - a CANCEL of the caller cancels every WIC the session was forked to

    The remote party CANCELs its INVITE while every WIC of the called user rings (RFC 3261 9.1:
    after a provisional response; Reason: Q.850;cause=16, RFC 3326). The eP-CSCF forked the
    session (5.2.2.5.4 step 5, 5.2.2.3.2) as a stateful proxy, and "A proxy MUST cancel any
    pending client transactions associated with a response context when it receives a matching
    CANCEL request" (16.10): every WIC gets a CANCEL. Each WIC answers its INVITE 487 (9.2); the
    eP-CSCF sends one of those stored responses upstream (16.7 step 6), so the caller's INVITE
    ends with 487, and no 2xx makes a session. Each hop answers the CANCEL itself (9.2).
    That the eP-CSCF copies the caller's Reason into the CANCELs it sends is a SHOULD of RFC 3326
    ("Proxies generating a CANCEL request upon reception of a CANCEL from the previous hop that
    contains a Reason header field SHOULD copy it into the new CANCEL request"): the profile's.

    @step_5 @TP_WIMPU_FORK_002
    Scenario Outline: The caller cancels a session while every WIC of the called user rings
      Given <user> has registered from <count> WICs
      And every WIC of <user> rings and does not answer
      When the remote party calls <user> and cancels the call while every WIC of that user rings
      Then the remote party's CANCEL is answered with 200
      And every WIC of <user> receives a CANCEL
      And the remote party receives 487
      And the remote party receives exactly one 487
      And the remote party receives no 2xx
      And every CANCEL a WIC of <user> receives carries the Reason of the CANCEL that reached the eP-CSCF, as the solution profile chooses (PROFILE_FORK_CANCEL_REASON)

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  | count |
        | alice | 2     |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user | count |
        | bob  | 2     |

    @step_5 @TP_WIMPU_FORK_002 @dialect_jssip @dialect_sipjs @dialect_sipml5
    Scenario Outline: The caller cancels a session while WICs of three client families of the called user ring
      Each WIC rings and is cancelled in the SIP of its own client family (docs/dialects.md): the
      eP-CSCF cancels every branch over its own WebSocket, whatever the WIC's Contact looks like,
      and the caller gets one 487.

      Given <user> has registered from 3 WICs speaking SIP as JsSIP 3.13, SIP.js 0.21 and a sipML5-like client, one each, in that order
      And every WIC of <user> rings and does not answer
      When the remote party calls <user> and cancels the call while every WIC of that user rings
      Then the remote party's CANCEL is answered with 200
      And every WIC of <user> receives a CANCEL
      And the remote party receives 487
      And the remote party receives exactly one 487
      And the remote party receives no 2xx
      And every CANCEL a WIC of <user> receives carries the Reason of the CANCEL that reached the eP-CSCF, as the solution profile chooses (PROFILE_FORK_CANCEL_REASON)

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  |
        | alice |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user |
        | bob  |

  Rule: RFC 3261 16.7 - when every WIC refuses the session, the caller gets one of their refusals, once all have answered

    WIC 1 refuses at once with 486 Busy Here, WIC 2 a little later with 480 Temporarily
    Unavailable (what JsSIP answers when its user rejects an incoming session). The eP-CSCF
    stores each branch's failure (16.7 step 4: "Final responses received are stored in the
    response context"; step 5 forwards only provisionals and 2xx at once) and, once every branch
    has its final response, "MUST forward a response from the responses stored in the response
    context" (step 6): the caller receives exactly one final response, one of the two, never a
    2xx, and not before WIC 2 has refused. That is the text's check. Which one is the profile's:
    both are 4xx, 16.7 step 6 makes the 4xx class a SHOULD ("the lowest response class") and
    within it "The proxy MAY select any response"; neither 486 nor 480 is one the RFC prefers
    (401, 407, 415, 420, 484). The solution profile returns the first refusal received, here 486.

    @step_5 @negative @TP_WIMPU_FORK_003
    Scenario Outline: A session every WIC of the called user refuses gets one of their refusals after the last one
      Given <user> has registered from 2 WICs
      And WIC 1 of <user> refuses the session with 486 Busy Here and WIC 2 of that user with 480 Temporarily Unavailable a little later
      When the remote party calls <user>
      Then every WIC of <user> receives the INVITE
      And the remote party receives exactly one final response, one of the refusals the WICs of <user> sent
      And the remote party receives it only after every WIC of <user> has refused the session
      And the remote party receives no 2xx
      And the remote party's final response is the first refusal, 486, as the solution profile chooses (PROFILE_FORK_FIRST_REFUSAL)

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  |
        | alice |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user |
        | bob  |
