@termination @ep_cscf @forking @clause_5_2_2_5_4
Feature: 5.2.2.5.4 Forking a terminating session: the eP-CSCF's Timer C
  TR 23.701 5.2.2.5.4 step 5: "The eP-CSCF delivers the session to the WIC associated with the
  individual IMPU"; 5.2.2.3.2: the eP-CSCF "shall support forking if the called webRTC user has
  registered from multiple WICs". It forks as a stateful proxy, and RFC 3261 gives each branch of
  a proxied INVITE a Timer C (16.6 item 11, 16.7 step 2, 16.8): a session no WIC answers does not
  ring for ever.

  The stack runs on a clock the tester controls: Timer C passes without waiting.

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: RFC 3261 16.8 - when no WIC answers, the eP-CSCF cancels every branch at its Timer C

    Every WIC of the called user rings and none answers. The eP-CSCF forked the session (5.2.2.5.4
    step 5, 5.2.2.3.2) as a stateful proxy: RFC 3261 16.6 item 11 sets Timer C on each branch,
    "larger than 3 minutes", started again by each provisional response (16.7 step 2), and when it
    fires on a branch that rang, "the proxy MUST generate a CANCEL request matching that
    transaction" (16.8). Every WIC gets a CANCEL and answers its INVITE 487 (9.2); the caller gets
    exactly one final response, and no 2xx. That it is one of the WICs' 487s (16.7 step 6: once
    every branch has its final response, one of them goes upstream), not a 408 the eP-CSCF makes
    up when its timer fires, is the profile's (PROFILE_TIMER_C_487). The time passes on the clock
    the tester moves, by the eP-CSCF's Timer C and one second: the reference's (181 s), or the
    PIXIT's [timing] timer_c; without one the test purpose is inconclusive. Rule SESSION_TIMER_C judges each CANCEL on the
    capture: at Timer C, never before 3 minutes of ringing.

    @step_5 @timer @TP_WIMPU_FORK_004
    Scenario Outline: No WIC answers a forked session: the eP-CSCF cancels every branch at its Timer C
      Given <user> has registered from <count> WICs
      And every WIC of <user> rings and does not answer
      When the remote party calls <user> and lets every WIC of that user ring past the eP-CSCF's Timer C
      Then every WIC of <user> receives a CANCEL
      And the remote party receives exactly one final response, not a 2xx
      And the remote party receives 487, as the solution profile chooses (PROFILE_TIMER_C_487)
      And the capture of the session passes the verify rule SESSION_TIMER_C

      @option_a
      Examples: individual IMPU allocated by the third party
        | user  | count |
        | alice | 2     |

      @option_b
      Examples: IMPU allocated by the eP-CSCF, called by the external identity
        | user | count |
        | bob  | 2     |
