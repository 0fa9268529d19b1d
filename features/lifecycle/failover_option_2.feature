@lifecycle @ep_cscf @wwsf @clause_5_2_2_2
Feature: 5.2.2.2 Re-allocation of a wIMPU block registered upon its first WIC registration
  TR 23.701 5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF
  shall be re-allocated to another eP-CSCF." 5.2.2.5.1 option 2: "The eP-CSCF could register an
  IMPU block upon receiving the first individual IMPU registration request from a WIC."

  Here block2 (option B) is provisioned for option 2 and ep-cscf1 stands by for it. Once bob's
  WIC has registered, ep-cscf2 has registered the block; then ep-cscf2 fails. The text gives
  the eP-CSCF taking the block over no moment to register it: at once when it takes the block
  over (the reference: terminating requests reach it from then on), or upon the first WIC
  registration it receives for the block (option 2 read literally). So the scenario checks the
  block's registration after bob's WIC has registered again with ep-cscf1: by then ep-cscf1
  holds the block's only registration with the S-CSCF, the failed eP-CSCF's binding gone
  (5.2.2.1: a single IMS registration per block), and bob is reached through it.

  Background:
    Given the wIMPU stack is running with the reference profile, block "sip:wrtc-!.*!@block2.ims.example.net" provisioned for block registration option 2 and eP-CSCF "ep-cscf1" standing by for it
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: If an eP-CSCF fails, a block it registered upon its first WIC registration is re-allocated, and its users are reached again

    @fault_injection @block_option_2 @option_b @TP_WIMPU_LIFE_014
    Scenario: The option 2 block of a failed eP-CSCF is registered by the eP-CSCF taking it over, and its user is reached again
      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      And the S-CSCF holds a single registration of block "sip:wrtc-!.*!@block2.ims.example.net", made by eP-CSCF "ep-cscf2"
      When eP-CSCF "ep-cscf2" fails
      Then the WWSF sends the WICs of block "sip:wrtc-!.*!@block2.ims.example.net" to eP-CSCF "ep-cscf1"
      When WIC "B2" of bob logs in again, connects to the eP-CSCF of its block and registers
      Then the eP-CSCF answers 200
      And eP-CSCF "ep-cscf1" has registered block "sip:wrtc-!.*!@block2.ims.example.net" with the S-CSCF, and no other registration of it is left
      When the remote party calls bob
      Then the remote party receives 200
      And the INVITE reaches WIC "B2" through the I-CSCF, the S-CSCF and the eP-CSCF
