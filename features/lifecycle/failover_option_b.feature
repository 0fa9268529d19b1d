@lifecycle @ep_cscf @wwsf @wimpu_registrar @clause_5_2_2_2
Feature: 5.2.2.2 Re-allocation of an option B wIMPU block when its eP-CSCF fails
  TR 23.701 5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF
  shall be re-allocated to another eP-CSCF." With identity option B the eP-CSCF allocates
  each user's individual IMPU and stores the binding to the external identity in the wIMPU
  Registrar (5.2.2.5.2 step 6), not in itself: the eP-CSCF that takes the block over finds it
  there.

  In the reference profile block2 (option B) is served by ep-cscf2; here ep-cscf1 stands by
  for it (docs/failover.md). bob's WIC loses its WebSocket with ep-cscf2; it logs in again and
  registers with ep-cscf1, which binds his external identity to an individual IMPU of the block
  again, and he is reached by it. Whether it is the IMPU he had before is not the text's: the
  reference removes the failed eP-CSCF's registrations at takeover, so bob is "not registered"
  when he comes back (step 6), and the text does not say which IMPU a new registration gets. The
  reference allocates deterministically and gives him the same one: a profile check.

  Background:
    Given the wIMPU stack is running with the reference profile and eP-CSCF "ep-cscf1" standing by for block "sip:wrtc-!.*!@block2.ims.example.net"
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: If an eP-CSCF fails, its option B block is re-allocated, and its users are bound and reached again

    @fault_injection @block_option_1 @option_b @registrar_read @TP_WIMPU_LIFE_009
    Scenario: The option B block of a failed eP-CSCF is re-allocated and its user is bound to an IMPU of it and reached again
      Given bob has logged in at the WWSF and received a security token
      And WIC "B1" of bob has opened a WSS connection to the eP-CSCF of its block
      And WIC "B1" has registered with the identity and the token of bob
      When eP-CSCF "ep-cscf2" fails
      Then eP-CSCF "ep-cscf1" has registered block "sip:wrtc-!.*!@block2.ims.example.net" with the S-CSCF, and no other registration of it is left
      And it did so within the failover time of the PIXIT, as the solution profile chooses (PROFILE_LIFE_FAILOVER_TIME)
      And the WWSF sends the WICs of block "sip:wrtc-!.*!@block2.ims.example.net" to eP-CSCF "ep-cscf1"
      When WIC "B2" of bob logs in again, connects to the eP-CSCF of its block and registers
      Then the eP-CSCF answers 200
      And the wIMPU Registrar binds bob's external identity to an individual IMPU of block "sip:wrtc-!.*!@block2.ims.example.net"
      And the individual IMPU of bob has not changed, as the solution profile chooses (PROFILE_LIFE_IMPU_STABLE)
      When the remote party calls bob
      Then the remote party receives 200
      And the INVITE reaches WIC "B2" through the I-CSCF, the S-CSCF and the eP-CSCF
