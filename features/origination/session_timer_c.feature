@origination @ep_cscf @clause_5_2_2_5_3
Feature: 5.2.2.5.3 Origination: the eP-CSCF's Timer C
  TR 23.701 5.2.2.5.3 step 3: "The eP-CSCF then performs standard IMS session origination
  procedure." The eP-CSCF relays the session as a proxy (TS 24.229 5.2.6.3), and RFC 3261 gives
  every proxied INVITE a Timer C (16.6 item 11, 16.7 step 2, 16.8): a session that rings and is
  never answered does not stay open for ever.

  The stack runs on a clock the tester controls: Timer C passes without waiting.

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: Step 3 - standard IMS origination: a session that rings and is never answered ends at the eP-CSCF's Timer C

    The eP-CSCF relays the WIC's INVITE as a proxy of the standard origination (5.2.2.5.3 step 3;
    TS 24.229 5.2.6.3). RFC 3261 16.6 item 11 sets Timer C on the branch it forwards, "larger than
    3 minutes", and every provisional response starts it again (16.7 step 2). When it fires on a
    branch that rang, "the proxy MUST generate a CANCEL request matching that transaction" (16.8):
    the remote party stops ringing and answers 487, and the WIC's INVITE ends without a session.
    That the WIC gets that 487, not a 408 the eP-CSCF makes up when its timer fires (what Kamailio's
    tm does), is the profile's reading of 16.7 step 6 (PROFILE_TIMER_C_487). The time passes on
    the clock the tester moves, by the eP-CSCF's Timer C and one second: the reference's (181 s),
    or the PIXIT's [timing] timer_c; without one the test purpose is inconclusive (minutes of real
    time). Rule SESSION_TIMER_C judges the CANCEL on the capture: at Timer C, never before 3
    minutes of ringing.

    @step_3 @timer @TP_WIMPU_ORIG_016
    Scenario Outline: A session the remote party lets ring is cancelled by the eP-CSCF at its Timer C
      Given the remote IMS party rings and does not answer
      And <user> has logged in at the WWSF and received a security token
      And WIC "<wic>" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "<wic>" has registered with the identity and the token of <user>
      When WIC "<wic>" starts a session to the remote party and lets it ring past the eP-CSCF's Timer C
      Then the remote party receives the CANCEL of the session through the eP-CSCF and the S-CSCF
      And WIC "<wic>" receives a final response for its INVITE, not a 2xx
      And WIC "<wic>" receives 487 for its INVITE, as the solution profile chooses (PROFILE_TIMER_C_487)
      And the capture of the session passes the verify rule SESSION_TIMER_C

      @option_a
      Examples:
        | user  | wic |
        | alice | A1  |

      @option_b
      Examples:
        | user | wic |
        | bob  | B1  |
