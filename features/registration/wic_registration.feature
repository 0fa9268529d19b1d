@registration @ep_cscf @wimpu_registrar @clause_5_2_2_5_2
Feature: 5.2.2.5.2 WIC registration procedure
  TR 23.701 5.2.2.5.2: "WIC registers with eP-CSCF using web based authentication. Upon
  successful authorization, the eP-CSCF shall then bind the WIC to the selected individual
  IMPU, shall update the registration status, and shall store the necessary information
  in the wIMPU Registrar. The wIMPU can be allocated by third party or the eP-CSCF."

  The wIMPU block has already registered in the HSS. alice's identity is an individual
  IMPU allocated by the third party (option A); bob registers with his external identity
  and the eP-CSCF allocates his IMPU (option B).

  Background:
    Given the wIMPU stack is running with the reference profile

  Rule: Steps 1-7 - a WIC with a valid token from the WWSF is registered

    @step_1 @step_2 @step_3 @step_4 @step_5 @step_6 @step_7 @registrar_read @TP_WIMPU_REG_001
    Scenario Outline: A WIC registers for the first time
      Given the browser of <user> has downloaded the WIC from the WWSF over HTTPS
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "<wic>" registers with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 1 contact
      And the wIMPU Registrar records the registration of <user> in block "<wIMPU block>"

      @option_a
      Examples: identity allocated by the third party
        | user  | wic | wIMPU block                          |
        | alice | A1  | sip:wrtc-!.*!@block1.ims.example.net |

      @option_b
      Examples: identity allocated by the eP-CSCF
        | user | wic | wIMPU block                          |
        | bob  | B1  | sip:wrtc-!.*!@block2.ims.example.net |

    @step_1 @step_2 @step_3 @step_4 @step_5 @step_6 @step_7 @registrar_read @TP_WIMPU_REG_001
    Scenario Outline: A WIC of each client family registers for the first time
      The same registration in the SIP of three client families (docs/dialects.md). JsSIP
      writes the interval both in an Expires header field and in its Contact, with
      +sip.instance, reg-id and +sip.ice. SIP.js writes it only in its Contact, with no
      +sip.instance or reg-id (so its contact is its URI, RFC 3261 10.3), and starts its CSeq
      at 2. The sipML5-like client writes it only in an Expires header field, under a Contact
      with a display name, feature tags and a quoted parameter holding a comma, with rport in
      its Via and Supported: path alone. Step 7: each finds its own contact in the 200 OK with
      the interval granted (RFC 3261 10.2.4; SIP.js drops a 2xx without it).

      Given the browser of <user> has downloaded the WIC from the WWSF over HTTPS
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> speaks SIP as <client> does
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "<wic>" registers with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the 200 OK lists the contact of WIC "<wic>" with an interval of at most 600 seconds
      And the wIMPU Registrar holds a registration for <user> with 1 contact
      And the wIMPU Registrar records the registration of <user> in block "<wIMPU block>"

      @dialect_jssip @option_a
      Examples: JsSIP 3.13, identity allocated by the third party
        | user  | wic | client     | wIMPU block                          |
        | alice | A1  | JsSIP 3.13 | sip:wrtc-!.*!@block1.ims.example.net |

      @dialect_jssip @option_b
      Examples: JsSIP 3.13, IMPU allocated by the eP-CSCF
        | user | wic | client     | wIMPU block                          |
        | bob  | B1  | JsSIP 3.13 | sip:wrtc-!.*!@block2.ims.example.net |

      @dialect_sipjs @option_a
      Examples: SIP.js 0.21, identity allocated by the third party
        | user  | wic | client      | wIMPU block                          |
        | alice | A1  | SIP.js 0.21 | sip:wrtc-!.*!@block1.ims.example.net |

      @dialect_sipjs @option_b
      Examples: SIP.js 0.21, IMPU allocated by the eP-CSCF
        | user | wic | client      | wIMPU block                          |
        | bob  | B1  | SIP.js 0.21 | sip:wrtc-!.*!@block2.ims.example.net |

      @dialect_sipml5 @option_a
      Examples: a sipML5-like client, identity allocated by the third party
        | user  | wic | client               | wIMPU block                          |
        | alice | A1  | a sipML5-like client | sip:wrtc-!.*!@block1.ims.example.net |

      @dialect_sipml5 @option_b
      Examples: a sipML5-like client, IMPU allocated by the eP-CSCF
        | user | wic | client               | wIMPU block                          |
        | bob  | B1  | a sipML5-like client | sip:wrtc-!.*!@block2.ims.example.net |

  Rule: Step 1 - the WWSF issues a security token only upon successful authentication

    "The WWSF authenticates the user using a common web authentication procedure. Upon
    successful authentication, the WWSF issues a security token for the user." A log-in that
    fails the authentication is refused; the capture rule WWSF_LOGIN judges on the wire that
    its answer carries no token (neither the solution profile's "token" nor any JWT).

    @step_1 @wwsf @negative @TP_WIMPU_REG_012
    Scenario Outline: A log-in with a wrong password is refused and issues no token
      When <user> tries to log in at the WWSF with a wrong password
      Then the WWSF refuses the log-in

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @step_1 @wwsf @negative @TP_WIMPU_REG_012
    Scenario: A log-in with a user name the WWSF does not know is refused and issues no token
      When someone tries to log in at the WWSF with a user name the WWSF does not know
      Then the WWSF refuses the log-in

    @step_1 @wwsf @TP_WIMPU_REG_015
    Scenario Outline: The token states its lifetime in seconds, as the log-in answer does
      The text gives the token no form. The solution profile makes it a JWT whose exp, and iat
      and nbf where present, are NumericDates, seconds since the epoch (RFC 7519 2), and gives
      its lifetime in seconds from the answer in the log-in answer's expires_in where present
      (RFC 6749 5.1): an eP-CSCF reads exp as RFC 7519 says, so a token whose exp is counted in
      milliseconds never expires there. The capture rule WWSF_TOKEN_TIMES judges it on the
      wire; a WWSF issuing tokens of another form answers PICS_PROFILE_WWSF_TOKEN_TIMES = no.

      When <user> logs in at the WWSF with the right password
      Then the WWSF accepts the log-in and issues a security token
      And the token's time claims are seconds since the epoch and agree with the lifetime the log-in answer gives, as the solution profile chooses (PROFILE_WWSF_TOKEN_TIMES)

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @step_1 @wwsf @TP_WIMPU_REG_016
    Scenario: A user who logs in with the right password again and again gets a token each time
      The text leaves the web authentication to "a common web authentication procedure", which
      may slow password guessing. The solution profile throttles failed log-ins only
      (PROFILE_WWSF_THROTTLE_FAILURES): a user with several WICs, a token refreshed before it runs
      out, or users behind one NAT log in again and again from one address, each time rightly,
      and are never locked out by it. Twelve log-ins in a row, more than the reference lets one
      address fail in a minute (ten). The capture rule WWSF_THROTTLE_FAILURES judges on the wire
      that none was refused for the rate of log-ins after successful ones only; a WWSF that limits
      every log-in answers PICS_PROFILE_WWSF_THROTTLE_FAILURES = no.

      When alice logs in at the WWSF with the right password 12 times in a row
      Then the WWSF accepts the first log-in and refuses none of them as a failed authentication
      And no log-in is refused for the successful ones before it, as the solution profile chooses (PROFILE_WWSF_THROTTLE_FAILURES)

    @step_1 @wwsf @negative @TP_WIMPU_REG_017
    Scenario: Guessing passwords from one address is slowed
      The text leaves the web authentication to "a common web authentication procedure". The
      solution profile slows password guessing (PROFILE_WWSF_THROTTLE_GUESSING): failed log-ins from
      one address are limited to twenty a minute, beyond which a log-in is refused 429 with
      Retry-After before its credentials are checked. Whatever the limiter (a bucket refilled over a
      minute, a count per calendar minute), twenty a minute never lets more than forty through in any
      60 s, so forty-five guesses; the reference refuses the sixth (five failures of one user name from
      one address a minute, ten of one address). The guesses are for a user name the WWSF does not
      know, so that no account of the PIXIT is locked for the scenarios after this one, and the run
      stops at the first answer that is not a refusal of the credentials, waiting out a 429's
      Retry-After (at most 60 s) where the WWSF outlives the scenario. The capture rule
      WWSF_THROTTLE_GUESSING judges on the wire; a WWSF that leaves guessing to another layer follows
      the text and answers PICS_PROFILE_WWSF_THROTTLE_GUESSING = no.

      When someone tries 45 passwords in a row at the WWSF from one address, for a user name the WWSF does not know
      Then the WWSF refuses every guess
      And the guessing is slowed to twenty failed guesses a minute, as the solution profile chooses (PROFILE_WWSF_THROTTLE_GUESSING)

  Rule: Step 3 - the REGISTER includes the security token received from the WWSF as an attachment

    @step_3 @step_4 @option_a @registrar_read @TP_WIMPU_REG_006
    Scenario Outline: The eP-CSCF accepts the token in each carriage it supports
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity and the token of alice, the token <carriage>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for alice with 1 contact

      @token_header
      Examples: Authorization header field (RFC 8898)
        | carriage                                |
        | in an Authorization Bearer header field |

      @token_header_24371
      Examples: Authorization header field in TS 24.371's form
        | carriage                                                                  |
        | in an Authorization Bearer header field in TS 24.371's access_token form |

      @token_body
      Examples: body part, the text's "attachment"
        | carriage                        |
        | as an application/jwt body part |

  Rule: Step 6 - the eP-CSCF allocates an individual IMPU and stores the binding

    @step_6 @option_b @registrar_read @TP_WIMPU_REG_002
    Scenario: The allocated IMPU is taken from the block and bound to the external identity
      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      When WIC "B1" registers with the identity and the token of bob
      Then the wIMPU Registrar binds bob's external identity to an individual IMPU of block "sip:wrtc-!.*!@block2.ims.example.net"

  Rule: 5.2.2.1 - IMS identities are only used within the IMS domain: a WIC of option B never learns the IMPU allocated to it

    @step_7 @option_b @TP_WIMPU_REG_007
    Scenario: The individual IMPU allocated to an external identity never reaches the WIC
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      When WIC "B1" registers with the identity and the token of bob
      And the remote party calls bob
      Then the eP-CSCF answers 200
      And the remote party receives 200
      And no message captured on the WebSocket connection of WIC "B1" names the individual IMPU of bob, the wIMPU block or a P-Profile-Key

  Rule: Step 6 - a different contact for a registered IMPU is a new contact of that IMPU

    @step_6 @registrar_read @TP_WIMPU_REG_003
    Scenario Outline: A second WIC of the same user adds a contact to the same IMPU
      Given <user> has logged in at the WWSF and received a security token
      And WIC "first" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "first" has registered with the identity and the token of <user>
      And WIC "second" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "second" registers with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 2 contacts
      And the individual IMPU of <user> has not changed

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: Step 6 - the same contact registering again is a re-registration

    @step_6 @option_a @registrar_read @TP_WIMPU_REG_004
    Scenario: A WIC refreshes its registration
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      When WIC "A1" registers with the identity and the token of alice
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for alice with 1 contact

  Rule: Step 6 - the same contact registering again over another WebSocket is a re-registration, on the new WebSocket

    The contact is the WIC instance (RFC 5626 4.2: ``+sip.instance`` and ``reg-id``), not the
    WebSocket it came over: a refresh of the same contact over another WebSocket of the same
    user (the WIC's page reconnected while the old connection lingers) is still "the contact
    ... the same as the stored one", a re-registration, not a new contact (step 6). The
    solution profile follows RFC 5626 6: the new WebSocket replaces the old flow of that
    contact, so the entry keeps one contact and sessions reach the WIC over the new
    WebSocket only. The request is inopportune (on another flow than its registration), and
    accepted.

    @step_6 @inopportune @registrar_read @TP_WIMPU_REG_008
    Scenario Outline: A refresh of a WIC's contact over another WebSocket moves the contact to it
      Given the remote IMS party "sip:dave@remote.example.org" answers sessions
      And <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered with the identity and the token of <user>
      And WIC "W2" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "W2" registers the contact of WIC "W" with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 1 contact
      When the remote party calls <user>
      Then the remote party receives 200
      And the INVITE reaches WIC "W2" through the I-CSCF, the S-CSCF and the eP-CSCF
      And WIC "W" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @step_6 @inopportune @registrar_read @TP_WIMPU_REG_008
    Scenario Outline: A WIC instance that comes back with a new Contact URI replaces its contact
      A reloaded page is a new SIP user agent with a new random Contact and Call-ID, but the
      same instance (RFC 5626 4.1: +sip.instance persists) and reg-id: the registrar matches
      the binding by instance and reg-id (RFC 5626 6), so the new Contact replaces the old one.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered with the identity and the token of <user>
      And WIC "W2" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "W2" registers as the instance of WIC "W" with its own Contact URI, with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 1 contact

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: Step 7 - the OK response tells the WIC the interval granted to its contact, never longer than it asked

    RFC 3261 10.3 step 8 (the registrar "MAY shorten" the interval, never lengthen it) and
    10.2.4: the 200 OK lists each binding with its own "expires"; the WIC refreshes by it and
    the registration timer of 5.2.2.3.1 runs from it.

    @step_7 @TP_WIMPU_REG_010
    Scenario Outline: The 200 OK lists the WIC's contact with at most the interval it asked for
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "W" registers for 300 seconds with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the 200 OK lists the contact of WIC "W" with an interval of at most 300 seconds

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @step_7 @timer @TP_WIMPU_REG_011
    Scenario Outline: A REGISTER for exactly the minimum registration interval is accepted
      RFC 3261 10.3 step 7: 423 (Interval Too Brief) is for an interval "less than" the
      registrar's minimum, the SUT's Min-Expires given in its PIXIT ([timing] min_expires).

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "W" registers for the minimum registration interval of the PIXIT with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the 200 OK lists the contact of WIC "W" with an interval of at most the minimum registration interval

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: Steps 5-7 - no OK before the registration information is stored in the wIMPU Registrar

    @step_5 @step_6 @step_7 @timer @fault_injection @registrar_read @TP_WIMPU_REG_013
    Scenario Outline: A REGISTER is not accepted while the wIMPU Registrar does not answer, and is once it does
      Step 6: the eP-CSCF "shall store the registration information"; step 7: then it "shall
      send the OK response". A wIMPU Registrar that has stopped answering (a hung process: it
      accepts the connection and the request, and answers neither the query of step 5 nor the
      write of step 6) has stored nothing, so no OK may come. The WIC waits for as long as its
      transaction lives (RFC 3261 17.1.2.2: Timer F, 64*T1 = 32 s). That the eP-CSCF answers it
      first, with 503 (RFC 3261 21.5.4, temporarily unable), is the solution profile's choice.
      Once the registrar answers again, the same WIC registers.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And the wIMPU Registrar has stopped answering
      When WIC "W" registers with the identity and the token of <user> and waits until its transaction times out
      Then the eP-CSCF does not accept the registration before the WIC's transaction times out
      And the eP-CSCF answers 503, as the solution profile chooses (PROFILE_REG_W6_UNAVAILABLE)
      When the wIMPU Registrar answers again
      And WIC "W" registers with the identity and the token of <user>
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 1 contact

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.1 - an entry is removed upon de-registration

    @lifecycle @clause_5_2_2_3_1 @registrar_read @TP_WIMPU_REG_005
    Scenario Outline: De-registration of the last contact removes the entry
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered with the identity and the token of <user>
      When WIC "W" de-registers
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds no registration for <user>

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @lifecycle @clause_5_2_2_3_1 @registrar_read @TP_WIMPU_REG_005
    Scenario Outline: A WIC that de-registers without its token, as SIP.js does, removes the entry
      SIP.js's Registerer.unregister() sends the un-REGISTER (its Contact with expires=0, no
      Expires header field, the same From tag) without the header fields that carried its
      token. 5.2.2.3.2 authorises the WIC "at WIC registration" and does not say whether a
      de-registration needs the token again: the solution profile accepts one without it over
      the WebSocket on which a valid token registered the same identity ("De-registration
      without a token"). An eP-CSCF that accepts it must remove the entry (5.2.2.3.1); one that
      refuses it (its PICS says whether it follows that choice) must leave the contact as it was.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> speaks SIP as <client> does
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered with the identity and the token of <user>
      When WIC "W" de-registers
      Then the eP-CSCF accepts the de-registration WIC "W" sent without a token, as the solution profile chooses (PROFILE_REG_DEREG_NO_TOKEN)
      And the wIMPU Registrar holds no registration for <user> if the eP-CSCF accepted the de-registration, else still the contact of WIC "W"

      @dialect_sipjs @option_a
      Examples: SIP.js 0.21, identity allocated by the third party
        | user  | client      |
        | alice | SIP.js 0.21 |

      @dialect_sipjs @option_b
      Examples: SIP.js 0.21, IMPU allocated by the eP-CSCF
        | user | client      |
        | bob  | SIP.js 0.21 |

    @lifecycle @clause_5_2_2_3_1 @registrar_read @TP_WIMPU_REG_014
    Scenario Outline: A wildcard de-registration removes every contact of the user, those of its other WICs too
      RFC 3261 10.2.2 and 10.3 step 6: "*" with Expires 0 removes every binding of the
      address-of-record, here the identity the WIC registered, whichever WebSocket each contact
      came over. The WIC's token comes with it, so the de-registration is authorised as a
      registration is (5.2.2.3.2); the entry goes with its last contact (5.2.2.3.1).

      Given <user> has registered from 2 WICs
      When WIC 1 of <user> de-registers every contact of its user with Contact: * and its token
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds no registration for <user>

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @lifecycle @clause_5_2_2_5_2 @step_4 @negative @registrar_read @TP_WIMPU_SEC_015
    Scenario Outline: A wildcard de-registration without a token is not accepted and removes no contact
      The REGISTER includes the token (step 3) and the eP-CSCF validates it (step 4). The
      solution profile accepts a de-registration without the token over the WebSocket on which a
      valid token registered the identity, for the contacts it names (PROFILE_REG_DEREG_NO_TOKEN,
      TP_WIMPU_REG_005), not "*", which removes every binding of the identity (RFC 3261 10.3 step
      6), those the user's other WICs registered over their own WebSockets with their own tokens
      among them. Outside that one exception the text's rule holds: a REGISTER without the token is
      not accepted (`REG_TOKEN`), and nothing is removed.

      Given <user> has registered from 2 WICs
      When WIC 1 of <user> de-registers every contact of its user with Contact: * and no token
      Then the eP-CSCF does not accept the registration
      And the wIMPU Registrar holds a registration for <user> with 2 contacts

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.1 - a de-registration of a contact that is not registered creates no entry

    An entry "is created upon successful WIC authorization" of a registration and "removed
    upon de-registration" (5.2.2.3.1): a REGISTER with Expires 0 asks for no registration,
    so for a contact that is not registered there is nothing to remove and nothing to create.
    The eP-CSCF answers 200 (RFC 3261 10.3: removing a binding that does not exist is not an
    error) and the wIMPU Registrar holds no entry afterwards.

    @lifecycle @clause_5_2_2_3_1 @step_6 @negative @registrar_read @TP_WIMPU_REG_009
    Scenario Outline: A de-registration of a contact that was never registered leaves no entry
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      When WIC "W" de-registers
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds no registration for <user>

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |
