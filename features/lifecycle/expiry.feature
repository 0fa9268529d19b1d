@lifecycle @ep_cscf @wimpu_registrar @clause_5_2_2_3_1
Feature: 5.2.2.3.1 Registration timer expiry
  TR 23.701 5.2.2.3.1: "An entry is removed upon de-registration or registration timer
  expiry." 5.2.2.3.2: "The eP-CSCF shall remove the registration entry once the registration
  expires" and "shall update the applicable entry in the wIMPU Registrar for every
  re-registration of a WIC."

  The stack runs on a clock the tester controls: time passes without waiting. The tokens
  the WWSF issues live for an hour, longer than any wait here but where a scenario runs a
  token down on purpose ("has 300 seconds left": time passes until then).

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: 5.2.2.3.1 - an entry is removed upon registration timer expiry

    @clause_5_2_2_5_4 @step_2 @i_cscf @negative @registrar_read @TP_WIMPU_LIFE_001
    Scenario Outline: A registration whose timer expires is removed and its WIC is no longer reached
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      When 700 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds no registration for <user>
      And the I-CSCF rejects the session
      And the I-CSCF rejects the session with 480, as the solution profile chooses (PROFILE_TERM_REJECT_CODE)
      And WIC "W" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @i_cscf @negative @registrar_read @TP_WIMPU_LIFE_007
    Scenario Outline: A registration is removed once exactly its granted interval has passed
      The registration timer runs out when the interval the registrar granted has passed (RFC
      3261 10.3 step 7: the binding is removed "when the expiration interval has passed"), not
      a second or a sweep later: the tester's clock moves by exactly the interval granted.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      When 600 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds no registration for <user>
      And the I-CSCF rejects the session
      And WIC "W" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @clause_5_2_2_5_3 @step_1 @negative @TP_WIMPU_ORIG_014
    Scenario Outline: A session started by a WIC after its registration ran out is refused and not relayed
      The registration lasts the interval the eP-CSCF granted (5.2.2.3.1: the registration
      status is kept with its expiry). Once it has run out, the WIC's identity is no longer one
      "used during the WIC registration" (step 1): its INVITE must not enter the IMS core,
      although the WebSocket stays open and the WIC never de-registered.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered for 600 seconds with the identity and the token of <user>
      When 700 seconds pass
      And WIC "<wic>" starts a session to the remote party with the identity of <user>
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

    @clause_5_2_2_3_1 @step_6 @i_cscf @registrar_read @TP_WIMPU_LIFE_015
    Scenario Outline: A WIC whose registration has run out is offered no session while another WIC of the user stays registered
      Each contact of an entry runs out on its own (RFC 3261 10.3 step 7: every binding has its own
      expiration time, 10.2.1: a registration lasts the interval granted to it), and 5.2.2.3.1
      removes what has expired: the user's other WIC, registered for longer, keeps the entry. A
      registrar that ages an entry by its latest contact (the W6 read then shows the dead contact)
      or an eP-CSCF that forks to contacts it remembers keeps offering sessions to a WIC that is gone.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W1" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W1" has registered for 600 seconds with the identity and the token of <user>
      And the eP-CSCF granted WIC "W1" more than 200 seconds, and its minimum registration interval is at most 120 seconds
      And WIC "W2" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W2" has registered for 120 seconds with the identity and the token of <user>
      When 200 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds a registration for <user> with 1 contact
      And the remote party receives 200
      And the INVITE reaches WIC "W1" through the I-CSCF, the S-CSCF and the eP-CSCF
      And WIC "W2" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.2 - the eP-CSCF shall update the applicable entry in the wIMPU Registrar for every re-registration of a WIC

    @clause_5_2_2_3_2 @clause_5_2_2_5_2 @step_6 @i_cscf @registrar_read @TP_WIMPU_LIFE_002
    Scenario Outline: A re-registration before expiry keeps the WIC registered beyond its first timer
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      And 400 seconds have passed
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      When 400 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds a registration for <user> with 1 contact
      And the remote party receives 200
      And WIC "W" receives the INVITE with P-Called-Party-ID carrying the identity <user> registered with, as the solution profile chooses (PROFILE_TERM_PCPID)

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @clause_5_2_2_5_3 @step_1 @TP_WIMPU_ORIG_017
    Scenario Outline: A session started by a WIC whose refreshed registration outlived its first interval reaches the remote party
      The twin of TP_WIMPU_ORIG_014 in the timer group: a re-registration extends the
      registration (5.2.2.3.2: the entry updated "for every re-registration"), so the WIC's
      identity stays one "used during the WIC registration" (5.2.2.5.3 step 1) for as long as
      the refreshed registration lives, not only the interval its first REGISTER was granted.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered for 600 seconds with the identity and the token of <user>
      And 400 seconds have passed
      And WIC "<wic>" has registered for 600 seconds with the identity and the token of <user>
      When 400 seconds pass
      And WIC "<wic>" starts a session to the remote party with the identity of <user>
      Then the eP-CSCF answers 200
      And the INVITE reaches the remote party through the eP-CSCF and the S-CSCF

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |

    @clause_5_2_2_3_2 @clause_5_2_2_5_2 @step_6 @i_cscf @negative @registrar_read @TP_WIMPU_LIFE_012
    Scenario Outline: A re-registration for a shorter interval ends the registration at the shorter time
      "Update the applicable entry" holds both ways: a refresh for less time than is left of
      the registration shortens it (RFC 3261 10.3 step 7: the registrar updates the binding's
      expiration time to the one the refresh asked for, or less; 10.2.1.1: the registrar may
      choose an expiration less than the one asked for, never more). A WIC asks for less when
      its page is about to close, or its user logs out soon; the registration must then not
      outlive what the WIC asked for, or sessions are offered to a WIC that is gone.

      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      And the eP-CSCF granted WIC "W" more than 300 seconds, and its minimum registration interval is at most 120 seconds
      And 100 seconds have passed
      And WIC "W" has registered for 120 seconds with the identity and the token of <user>
      When 200 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds no registration for <user>
      And the I-CSCF rejects the session
      And WIC "W" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.2 - a registration lasts its own duration, whatever the lifetime of the token that authorised it

    The token authorises the registration when it is made (step 4, 5.2.2.3.2 "perform the
    WIC authorization at WIC registration"); the eP-CSCF then stores the registration "for
    the duration of the registration" and removes it "once the registration expires or when
    the WIC is de-registered". The solution profile (Lifecycle): "A re-REGISTER carries a
    token too; an expired token on re-REGISTER is rejected like on the first REGISTER, and a
    fresh token extends the registration." So a token running out ends neither the
    registration nor the WIC's reachability, a re-REGISTER with it is refused without
    touching the registration, and a re-REGISTER with a fresh token extends it.

    The re-REGISTER comes more than ten minutes after the token's exp (640 s), while the
    registration still has time to run (the WIC asked 1800 s; a SUT that grants less than 1000 s,
    as RFC 3261 10.3 step 7 allows, makes the scenario inconclusive): RFC 7519 4.1.4 lets a
    verifier allow "some small leeway, usually no more than a few minutes" past exp for clock skew,
    so a token only just expired may still be taken as valid without breaking the text.

    @clause_5_2_2_3_2 @clause_5_2_2_5_2 @step_4 @i_cscf @negative @registrar_read @TP_WIMPU_LIFE_004
    Scenario Outline: A re-registration with an expired token is refused and the WIC stays registered and reachable
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And the security token of <user> has 60 seconds left
      And WIC "W" has registered for 1800 seconds with the identity and the token of <user>
      And the eP-CSCF has granted WIC "W" at least 1000 seconds
      And 700 seconds have passed
      When WIC "W" registers with the identity and the token of <user>
      Then the eP-CSCF does not accept the registration
      And the eP-CSCF answers 401, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the response says the security token is invalid, as the solution profile chooses (PROFILE_SEC_TOKEN_401)
      And the wIMPU Registrar holds a registration for <user> with 1 contact
      When the remote party calls <user>
      Then the remote party receives 200
      And the INVITE reaches WIC "W" through the I-CSCF, the S-CSCF and the eP-CSCF

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

    @clause_5_2_2_3_2 @clause_5_2_2_5_2 @step_4 @i_cscf @registrar_read @TP_WIMPU_LIFE_005
    Scenario Outline: A re-registration with a fresh token after the first token expired keeps the WIC registered beyond its first timer
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And the security token of <user> has 300 seconds left
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      And 400 seconds have passed
      And <user> has logged in at the WWSF and received a security token
      When WIC "W" registers with the identity and the token of <user>
      Then the eP-CSCF answers 200
      When 400 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds a registration for <user> with 1 contact
      And the remote party receives 200
      And the INVITE reaches WIC "W" through the I-CSCF, the S-CSCF and the eP-CSCF

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.1 - an entry is removed upon de-registration or expiry only: one WIC's lost WebSocket leaves the user's other WICs registered

    A closed WebSocket is no de-registration of any other WIC's contact: the user's other
    WIC stays registered and is reached (5.2.2.3.1, 5.2.2.5.4 steps 4-5). That the eP-CSCF
    removes the closed WebSocket's own contact at once is the solution profile's choice
    (Lifecycle: "A WebSocket that closes makes its contacts unreachable ... and the
    reference removes them"); RFC 5626 lets a registrar keep it until it expires.

    @clause_5_2_2_3_2 @clause_5_2_2_5_4 @step_5 @inopportune @i_cscf @registrar_read @TP_WIMPU_LIFE_006
    Scenario Outline: When one WIC's WebSocket closes, a session to the user still reaches the other WIC
      Given <user> has registered from 2 WICs
      When WIC 1 of <user> closes its WebSocket
      Then the wIMPU Registrar drops the contact of WIC 1 of <user>, as the solution profile chooses (PROFILE_LIFE_CLOSE_REMOVES)
      When the remote party calls <user>
      Then the remote party receives 200
      And WIC 2 of <user> receives the INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.1 and W6 (5.2.2.4.1) - a de-registration removes the contact of the WIC that de-registered, and only that one

    The entry of an IMPU is removed upon the de-registration of its last contact; a WIC's
    de-registration removes its own contact (the eP-CSCF updates the entry over W6), and the
    user's other WICs stay registered and are reached (5.2.2.5.4 steps 4-5).

    @clause_5_2_2_3_2 @i_cscf @registrar_read @TP_WIMPU_LIFE_008
    Scenario Outline: When one WIC de-registers, a session to the user still reaches the other WIC
      Given <user> has registered from 2 WICs
      When WIC 1 of <user> de-registers
      Then the eP-CSCF answers 200
      And the wIMPU Registrar holds a registration for <user> with 1 contact
      When the remote party calls <user>
      Then the remote party receives 200
      And WIC 2 of <user> receives the INVITE
      And WIC 1 of <user> receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |
