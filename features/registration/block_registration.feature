@registration @ep_cscf @clause_5_2_2_5_1
Feature: 5.2.2.5.1 Block registration of the wIMPU range
  TR 23.701 5.2.2.5.1: "A single IMS registration is required to register the wIMPU block as
  per existing 23.228 procedures. The eP-CSCF would need to trigger the IMS registration of
  the wIMPU block with IMS." Only a distinct IMPU can be registered: each block has a
  distinct IMPU whose implicit registration set holds the wildcarded IMPU (solution profile).
  How the 200 OK lists that set in P-Associated-URI is the profile's too (open point 8): a
  step ending "as the solution profile chooses (PROFILE_...)" checks a profile choice, and a
  SUT that only deviates from it is reported PROFILE DEVIATION, not FAIL.

  In the reference profile the third party holds two blocks: block1 (identities allocated by
  the third party) is provisioned for option 1 in eP-CSCF ep-cscf1, block2 (identities
  allocated by the eP-CSCF) for option 2 in eP-CSCF ep-cscf2.

  Background:
    Given the wIMPU stack is running with the reference profile

  Rule: Option 1 - the eP-CSCF autonomously registers each provisioned block upon initialisation

    @step_1 @block_option_1 @TP_WIMPU_BLK_001
    Scenario Outline: A block provisioned for option 1 is registered by its eP-CSCF at start-up
      Then the S-CSCF holds a single registration of block "<wIMPU block>", made by eP-CSCF "<eP-CSCF>"
      And the 200 OK to the registration of block "<wIMPU block>" carried a Service-Route
      And the 200 OK to the registration of block "<wIMPU block>" listed "<distinct IMPU>" first and the wildcarded IMPU after it in P-Associated-URI, as the solution profile chooses (PROFILE_BLK_PAU_ORDER)

      Examples:
        | wIMPU block                          | eP-CSCF  | distinct IMPU                   |
        | sip:wrtc-!.*!@block1.ims.example.net | ep-cscf1 | sip:block1@wrtc.ims.example.net |

    @step_1 @block_option_1 @negative @inopportune @TP_WIMPU_BLK_007
    Scenario: An eP-CSCF restarted while its block is registered registers it again, and it stays a single registration
      Option 1 registers each provisioned block "upon initialization". A restarted eP-CSCF
      initialises again while the S-CSCF still holds the registration it made before the restart
      (a crash releases nothing). It registers the block again, and the S-CSCF holds a single
      registration of it ("A single IMS registration is required to register the wIMPU block"):
      the binding it had is replaced (RFC 3261 10.3 step 7), no second one is added beside it. A
      WIC of the block then registers through it.

      Given the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block1.ims.example.net", made by eP-CSCF "ep-cscf1"
      When eP-CSCF "ep-cscf1" restarts
      Then eP-CSCF "ep-cscf1" registers block "sip:wrtc-!.*!@block1.ims.example.net" again after its restart
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block1.ims.example.net", made by eP-CSCF "ep-cscf1"
      When alice logs in at the WWSF and WIC "A1" of that user registers with its identity and token
      Then the eP-CSCF answers 200

  Rule: Option 1 - each block of wIMPU and the allocated eP-CSCF for it shall be provisioned in the WWSF as well

    @step_1 @wwsf @TP_WIMPU_BLK_004
    Scenario: The WWSF announces every block of the third party with a different eP-CSCF
      Then the WWSF announces these wIMPU blocks of the third party, each with the eP-CSCF serving it:
        | wIMPU block                          | eP-CSCF  |
        | sip:wrtc-!.*!@block1.ims.example.net | ep-cscf1 |
        | sip:wrtc-!.*!@block2.ims.example.net | ep-cscf2 |
      And no two wIMPU blocks the WWSF announces share an eP-CSCF

  Rule: Option 2 - the eP-CSCF registers a block upon the first individual IMPU registration request from a WIC

    @step_2 @block_option_2 @option_b @TP_WIMPU_BLK_002
    Scenario: A block provisioned for option 2 is registered upon the first WIC registration for it
      Given block "sip:wrtc-!.*!@block2.ims.example.net" has not been registered with the S-CSCF
      And bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      When WIC "B1" registers with the identity and the token of bob
      Then the eP-CSCF answers 200
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"
      And the 200 OK to the registration of block "sip:wrtc-!.*!@block2.ims.example.net" carried a Service-Route
      And the 200 OK to the registration of block "sip:wrtc-!.*!@block2.ims.example.net" listed "sip:block2@wrtc.ims.example.net" first and the wildcarded IMPU after it in P-Associated-URI, as the solution profile chooses (PROFILE_BLK_PAU_ORDER)

    @step_2 @block_option_2 @option_b @inopportune @TP_WIMPU_BLK_006
    Scenario: WICs registering at the same moment in a block not yet registered make a single registration of it
      Option 2 registers the block "upon receiving the first individual IMPU registration
      request from a WIC". When several WICs of the block register at once, each REGISTER is a
      first one as it arrives, while the block's own registration is still under way: the block
      is registered once (5.2.2.1 "A single IMS registration is performed per block of wIMPU"),
      and every WIC is registered in it.

      Given block "sip:wrtc-!.*!@block2.ims.example.net" has not been registered with the S-CSCF
      And bob has logged in at the WWSF and received a security token
      When 3 WICs of bob register with the identity and the token of that user at the same moment
      Then the eP-CSCF answers 200 to each of those WICs of bob
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"

  Rule: A single IMS registration is performed per block of wIMPU, however many WICs register in it

    @step_1 @step_2 @TP_WIMPU_BLK_003
    Scenario Outline: WICs registering in a block add no IMS registration of the block
      Given <user> has registered from 2 WICs
      Then the S-CSCF holds a single registration of block "<wIMPU block>", made by eP-CSCF "<eP-CSCF>"
      And no WIC's registration made the eP-CSCF register block "<wIMPU block>" with the S-CSCF again, as the solution profile chooses (PROFILE_BLK_NO_PER_WIC)

      @option_a
      Examples: block of option 1
        | user  | wIMPU block                          | eP-CSCF  |
        | alice | sip:wrtc-!.*!@block1.ims.example.net | ep-cscf1 |

      @option_b
      Examples: block of option 2
        | user | wIMPU block                          | eP-CSCF  |
        | bob  | sip:wrtc-!.*!@block2.ims.example.net | ep-cscf2 |
