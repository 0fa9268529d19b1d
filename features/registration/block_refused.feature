@registration @ep_cscf @clause_5_2_2_5_1
Feature: 5.2.2.5.1 Block registration of the wIMPU range: a block the S-CSCF refuses
  TR 23.701 5.2.2.5.1: "A single IMS registration is required to register the wIMPU block as
  per existing 23.228 procedures." The block registration is what makes every identity of the
  block known to IMS: the text registers a WIC only within its block's registration (5.2.2.5.2:
  the block is registered before, or upon, the first individual IMPU registration). When the
  S-CSCF refuses the block's registration, no WIC of the block is registered as if the block
  were: whatever the eP-CSCF answers the WIC (the text gives no code; the reference answers 503
  with Retry-After), it is not a 2xx, and nothing of the WIC is stored in the wIMPU Registrar.

  The refusal is an operator's provisioning error: the HSS holds another digest password for the
  block's private identity than the eP-CSCF, from before anything starts, so the S-CSCF answers
  the eP-CSCF's authenticated REGISTER 403 (RFC 3261 22.4). Only a run whose S-CSCF/HSS is the
  suite's own (in-process, or emulated around an external eP-CSCF that the suite starts) can set
  this up; elsewhere the test purpose is inconclusive.

  Rule: Options 1 and 2 - a block the S-CSCF does not register has no WIC registered as if it were

    @step_1 @step_2 @negative @fault_injection @TP_WIMPU_BLK_008
    Scenario Outline: A WIC of a block whose registration the S-CSCF refused is not registered
      Given the wIMPU stack is running with the reference profile, its HSS holding another digest password for block "<wIMPU block>" than the eP-CSCF of that block
      When <user> logs in at the WWSF and WIC "<wic>" of that user registers with its identity and token
      Then the eP-CSCF refuses the request
      And the S-CSCF refused the authenticated registration of block "<wIMPU block>"
      And block "<wIMPU block>" has not been registered with the S-CSCF
      And the wIMPU Registrar holds no registration for <user>

      @block_option_1 @option_a
      Examples: option 1, registered upon initialisation
        | wIMPU block                          | user  | wic |
        | sip:wrtc-!.*!@block1.ims.example.net | alice | A1  |

      @block_option_2 @option_b
      Examples: option 2, registered upon the first WIC registration
        | wIMPU block                          | user | wic |
        | sip:wrtc-!.*!@block2.ims.example.net | bob  | B1  |
