@lifecycle @ep_cscf @wimpu_registrar @clause_5_2_2_3_1
Feature: 5.2.2.3.1 Registration timer expiry
  TR 23.701 5.2.2.3.1: "An entry is removed upon de-registration or registration timer
  expiry." 5.2.2.3.2: "The eP-CSCF shall remove the registration entry once the registration
  expires" and "shall update the applicable entry in the wIMPU Registrar for every
  re-registration of a WIC."

  The stack runs on a clock the tester controls: time passes without waiting. The tokens
  the WWSF issues live for an hour, longer than any wait here.

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: 5.2.2.3.1 - an entry is removed upon registration timer expiry

    @i_cscf @negative @registrar_read @TP_WIMPU_LIFE_001
    Scenario Outline: A registration whose timer expires is removed and its WIC is no longer reached
      Given <user> has logged in at the WWSF and received a security token
      And WIC "W" of <user> has opened a WSS connection to the eP-CSCF of its block
      And WIC "W" has registered for 600 seconds with the identity and the token of <user>
      When 700 seconds pass
      And the remote party calls <user>
      Then the wIMPU Registrar holds no registration for <user>
      And the I-CSCF rejects the session with 480
      And WIC "W" receives no INVITE

      @option_a
      Examples:
        | user  |
        | alice |

      @option_b
      Examples:
        | user |
        | bob  |

  Rule: 5.2.2.3.2 - the eP-CSCF shall update the applicable entry in the wIMPU Registrar for every re-registration of a WIC

    @clause_5_2_2_3_2 @i_cscf @registrar_read @TP_WIMPU_LIFE_002
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
