@registration @ep_cscf @clause_5_2_2_5_1
Feature: 5.2.2.5.1 Block registration options with either identity option
  TR 23.701 5.2.2.5.1 gives two ways of registering a block, whoever allocates the individual
  IMPUs (5.2.2.1: the third party, option A, or the eP-CSCF, option B): "1) The wIMPU block could
  be provisioned in the eP-CSCF so that the eP-CSCF autonomously registers each block upon
  initialization" and "2) The eP-CSCF could register an IMPU block upon receiving the first
  individual IMPU registration request from a WIC". The reference profile pairs block1 (option A)
  with option 1 and block2 (option B) with option 2 (block_registration.feature); here each block
  is provisioned for the other, so every identity option meets every block registration option.
  Each scenario provisions both blocks so when the suite runs the reference stack; against an
  external SUT, its PIXIT must provision the block the scenario exercises so ([[block]]
  registration), else the scenario is INCONCLUSIVE and says why: the other block is not asked of
  it, as the scenario does not exercise it.

  Rule: Option 1 with identities allocated by the eP-CSCF (option B)

    @step_1 @block_option_1 @option_b @TP_WIMPU_BLK_001
    Scenario: An option B block provisioned for option 1 is registered by its eP-CSCF at start-up, and its first WIC registers in it
      Given the wIMPU stack is running with the reference profile and block "sip:wrtc-!.*!@block2.ims.example.net" provisioned for block registration option 1, the other block "sip:wrtc-!.*!@block1.ims.example.net" for option 2 where the suite runs the reference stack
      Then the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"
      And the 200 OK to the registration of block "sip:wrtc-!.*!@block2.ims.example.net" carried a Service-Route
      When bob logs in at the WWSF and WIC "B1" of that user registers with its identity and token
      Then the eP-CSCF answers 200
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"

  Rule: Option 2 with identities allocated by the third party (option A)

    @step_2 @block_option_2 @option_a @TP_WIMPU_BLK_002
    Scenario: An option A block provisioned for option 2 is registered upon the first WIC registration for it
      Given the wIMPU stack is running with the reference profile and block "sip:wrtc-!.*!@block1.ims.example.net" provisioned for block registration option 2, the other block "sip:wrtc-!.*!@block2.ims.example.net" for option 1 where the suite runs the reference stack
      And block "sip:wrtc-!.*!@block1.ims.example.net" has not been registered with the S-CSCF
      And alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity and the token of alice
      Then the eP-CSCF answers 200
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block1.ims.example.net", made by eP-CSCF "ep-cscf1"
      And the 200 OK to the registration of block "sip:wrtc-!.*!@block1.ims.example.net" carried a Service-Route
