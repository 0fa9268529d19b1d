@registration @ep_cscf @timer @clause_5_2_2_5_1
Feature: 5.2.2.5.1 The block registration is kept alive
  TR 23.701 5.2.2.5.1: "A single IMS registration is required to register the wIMPU block as
  per existing 23.228 procedures." Under those procedures the registering UE, here the
  eP-CSCF, registers again before the registration expires (TS 24.229 5.1.1.4.1: when half
  of an interval of 1200 seconds or less has passed), so the block never drops out of the
  S-CSCF while the eP-CSCF serves it. The tester moves the stack's clock: one second before
  the interval the S-CSCF granted would run out, the block must have been registered again,
  and after another whole interval a WIC of the block that registers then is reached.

  Background:
    Given the wIMPU stack is running with the reference profile and a clock the tester controls
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: The eP-CSCF refreshes the single IMS registration of its block before it expires

    @step_1 @block_option_1 @TP_WIMPU_BLK_005
    Scenario Outline: A block registration is refreshed by its eP-CSCF before it runs out, and the block's users are still reached
      When all but one second of the registration interval the S-CSCF granted to block "<wIMPU block>" passes
      Then eP-CSCF "<eP-CSCF>" has registered block "<wIMPU block>" again with the S-CSCF before its registration ran out
      When the registration interval the S-CSCF granted to block "<wIMPU block>" passes once more
      Then the S-CSCF holds a single registration of block "<wIMPU block>", made by eP-CSCF "<eP-CSCF>"
      When <user> logs in at the WWSF and WIC "<wic>" of that user registers with its identity and token
      Then the eP-CSCF answers 200
      When the remote party calls <user>
      Then the remote party receives 200

      Examples:
        | wIMPU block                          | eP-CSCF  | user  | wic |
        | sip:wrtc-!.*!@block1.ims.example.net | ep-cscf1 | alice | A1  |

    @step_2 @block_option_2 @option_b @TP_WIMPU_BLK_005
    Scenario: A block registered upon its first WIC registration is refreshed by its eP-CSCF before it runs out, and its users are still reached
      Option 2: the block is registered when its first WIC registers, and from then on it is kept
      alive as an option 1 block is. The first WIC's own registration and token run out while
      the block's is refreshed; a WIC that registers an interval later is reached.

      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      When all but one second of the registration interval the S-CSCF granted to block "sip:wrtc-!.*!@block2.ims.example.net" passes
      Then eP-CSCF "ep-cscf2" has registered block "sip:wrtc-!.*!@block2.ims.example.net" again with the S-CSCF before its registration ran out
      When the registration interval the S-CSCF granted to block "sip:wrtc-!.*!@block2.ims.example.net" passes once more
      Then the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"
      When bob logs in at the WWSF and WIC "B2" of that user registers with its identity and token
      Then the eP-CSCF answers 200
      When the remote party calls bob
      Then the remote party receives 200

  Rule: 5.2.2.5.1 - a block whose registration ran out registers no WIC

    A WIC registers within its block's single IMS registration ("the wIMPU block has already
    registered in HSS", 5.2.2.5.2 step 5 note). When the S-CSCF stops answering the block's
    refreshes, the block's registration runs out at the end of the interval the S-CSCF granted;
    from then on the S-CSCF no longer routes the block's sessions to this eP-CSCF, and a WIC that
    registers must not be told it is registered (nor be stored in the wIMPU Registrar). The S-CSCF
    is the tester's here: an external S-CSCF cannot be made to stop answering (inconclusive).

    @step_1 @block_option_1 @negative @TP_WIMPU_BLK_009
    Scenario Outline: A WIC of a block whose registration ran out unrefreshed is not registered
      Given the S-CSCF stops answering the registrations of block "<wIMPU block>"
      When the registration interval the S-CSCF granted to block "<wIMPU block>" passes once more
      And <user> logs in at the WWSF and WIC "<wic>" of that user registers with its identity and token
      Then the eP-CSCF does not accept the registration
      And the wIMPU Registrar holds no registration for <user>

      Examples:
        | wIMPU block                          | user  | wic |
        | sip:wrtc-!.*!@block1.ims.example.net | alice | A1  |

    @step_2 @block_option_2 @option_b @negative @TP_WIMPU_BLK_009
    Scenario: A WIC of a block registered upon its first WIC registration, whose registration ran out unrefreshed, is not registered
      Option 2: the first WIC's registration registered the block. Once the block's registration
      has run out unrefreshed, a WIC's REGISTER makes the eP-CSCF register the block again, which
      the S-CSCF does not answer either: the WIC must not be told it is registered.

      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      And the S-CSCF stops answering the registrations of block "sip:wrtc-!.*!@block2.ims.example.net"
      When the registration interval the S-CSCF granted to block "sip:wrtc-!.*!@block2.ims.example.net" passes once more
      And bob logs in at the WWSF and WIC "B2" of that user registers with its identity and token
      Then the eP-CSCF does not accept the registration
      And the wIMPU Registrar holds no contact of WIC "B2"
