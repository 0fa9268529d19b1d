@termination @ep_cscf @i_cscf @non_invite @clause_5_2_2_5_4
Feature: 5.2.2.5.4 Termination of a request outside any session (MESSAGE, OPTIONS)
  TR 23.701 5.2.2.5.4 step 5: "The eP-CSCF delivers the session to the WIC associated with the
  individual IMPU"; 5.2.2.3.2: the eP-CSCF "shall support forking if the called webRTC user has
  registered from multiple WICs". A MESSAGE (RFC 3428) to a webRTC user is delivered like an
  INVITE: to every WIC of the called IMPU (RFC 3428 7: a proxy may fork a MESSAGE), and one to
  a user who is not registered is rejected and reaches no WIC. Which node rejects it, and with
  which code, the text does not say for a MESSAGE; the scenarios check the outcome. A SUT that
  handles MESSAGE otherwise answers PICS_NON_INVITE no. The capture rules of termination (W7,
  W6, forking) judge sessions, as the text words them; for a MESSAGE these scenarios' steps do.

  Background:
    Given the wIMPU stack is running with the reference profile
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: Step 5 - a MESSAGE to a registered webRTC user reaches every WIC of the user

    @step_4 @step_5 @forking @TP_WIMPU_TERM_010
    Scenario Outline: A MESSAGE to a user registered from several WICs reaches every WIC
      Given <user> has registered from 2 WICs
      When the remote party sends a MESSAGE to <user>
      Then the remote party receives 200 for its MESSAGE
      And every WIC of <user> receives the MESSAGE with the text the remote party sent

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  |
        | alice |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user |
        | bob  |

  Rule: Step 5 - an OPTIONS to a registered webRTC user reaches every WIC of the user

    A capability query (RFC 3261 11) for the called IMPU is forwarded by a proxy as an INVITE
    would be: to every contact (5.2.2.3.2), each WIC answering it. An eP-CSCF that answered it in
    the WICs' place would tell the caller capabilities no WIC gave.

    @step_4 @step_5 @forking @TP_WIMPU_TERM_012
    Scenario Outline: An OPTIONS to a user registered from several WICs reaches every WIC, which answers it
      Given <user> has registered from 2 WICs
      When the remote party sends an OPTIONS to <user>
      Then the remote party receives 200 for its OPTIONS
      And every WIC of <user> receives the OPTIONS

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  |
        | alice |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user |
        | bob  |

  Rule: Steps 2 and 5 - a MESSAGE to a webRTC user who is not registered is rejected

    @step_2 @negative @TP_WIMPU_TERM_011
    Scenario Outline: A MESSAGE to a webRTC user who is not registered is rejected and reaches no WIC
      Given <other> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <other> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <other>
      When the remote party sends a MESSAGE to <user>
      Then the remote party's MESSAGE is rejected
      And WIC "<wic>" receives no MESSAGE

      @option_a
      Examples: another user of the same block is registered
        | user  | other | wic |
        | alice | dave  | D1  |

      @option_b
      Examples:
        | user | other | wic |
        | bob  | alice | A1  |
