@termination @ep_cscf @forking @clause_5_2_2_5_4
Feature: 5.2.2.5.4 Forking a terminating session to every WIC of the called IMPU
  TR 23.701 5.2.2.5.4: "For terminating sessions arriving at the eP-CSCF, the eP-CSCF queries
  the wIMPU Registrar for the contact information, the eP-CSCF shall fork the sessiosn to all
  contacts associated with a called IMPU". 5.2.2.3.2: the eP-CSCF "shall support forking if
  the called webRTC user has registered from multiple WICs".

  The eP-CSCF forks in parallel (RFC 3261 16.7): the first 2xx wins and every other branch is
  cancelled with Reason: SIP;cause=200;text="Call completed elsewhere" (solution profile).
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
      And every WIC of <user> but WIC 2 receives a CANCEL with the reason cause 200 "Call completed elsewhere"
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
