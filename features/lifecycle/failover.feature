@lifecycle @ep_cscf @wwsf @clause_5_2_2_2
Feature: 5.2.2.2 Re-allocation of a wIMPU block when its eP-CSCF fails
  TR 23.701 5.2.2.2: "If an eP-CSCF fails then the wIMPU associated with the failed eP-CSCF
  shall be re-allocated to another eP-CSCF."

  In the reference profile block1 (option A) is served by ep-cscf1; here ep-cscf2 stands by
  for it. The eP-CSCF serving a block holds its lease at the wIMPU Registrar and renews it;
  when the lease lapses the standby takes the block, registers it with the S-CSCF
  (5.2.2.5.1) and removes the failed eP-CSCF's binding, and the WWSF sends new WICs to it
  (docs/failover.md). The WICs of the failed eP-CSCF lose their WebSocket connection; they
  log in again and register with the new eP-CSCF. The text gives no time: how fast is the
  SUT's own figure, [timing] failover_within of its PIXIT (the reference: 10 s), a profile check.

  Background:
    Given the wIMPU stack is running with the reference profile and eP-CSCF "ep-cscf2" standing by for block "sip:wrtc-!.*!@block1.ims.example.net"
    And the remote IMS party "sip:dave@remote.example.org" answers sessions

  Rule: If an eP-CSCF fails, the wIMPU block associated with it is re-allocated to another eP-CSCF

    @fault_injection @block_option_1 @option_a @TP_WIMPU_LIFE_003
    Scenario: The block of a failed eP-CSCF is re-allocated to another eP-CSCF and its users are reached again
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      When eP-CSCF "ep-cscf1" fails
      Then eP-CSCF "ep-cscf2" has registered block "sip:wrtc-!.*!@block1.ims.example.net" with the S-CSCF, and no other registration of it is left
      And it did so within the failover time of the PIXIT, as the solution profile chooses (PROFILE_LIFE_FAILOVER_TIME)
      And the WWSF announces these wIMPU blocks of the third party, each with the eP-CSCF serving it:
        | wIMPU block                          | eP-CSCF  |
        | sip:wrtc-!.*!@block1.ims.example.net | ep-cscf2 |
      When WIC "A2" of alice logs in again, connects to the eP-CSCF of its block and registers
      Then the eP-CSCF answers 200
      When the remote party calls alice
      Then the remote party receives 200
      And the INVITE reaches WIC "A2" through the I-CSCF, the S-CSCF and the eP-CSCF

  Rule: A WIC of the failed eP-CSCF that has not registered again is not reached

    The WICs of the failed eP-CSCF lost their WebSocket with it: until one registers again, no
    session reaches it, and the caller's session ends without being set up. How it ends is not
    the text's. 5.2.2.3.1 removes an entry "upon de-registration or registration timer expiry", so
    the contacts may stay in the wIMPU Registrar until they expire, and the I-CSCF, told by W7 that
    the user is registered, routes the session to the eP-CSCF now serving the block, which finds
    no live flow. The solution profile (Lifecycle) has the eP-CSCF taking a block over remove
    the contacts whose WebSockets were on the failed one (PROFILE_LIFE_TAKEOVER_CLEANUP), so that
    W7 tells the truth and the I-CSCF rejects the session at once: a profile check.

    @fault_injection @block_option_1 @option_a @registrar_read @TP_WIMPU_LIFE_013
    Scenario: After a take-over, a session to a user whose WIC has not registered again is not set up
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And eP-CSCF "ep-cscf1" has failed and block "sip:wrtc-!.*!@block1.ims.example.net" has been re-allocated to eP-CSCF "ep-cscf2"
      When the remote party calls alice
      Then the remote party receives exactly one final response, not a 2xx
      And WIC "A1" receives no INVITE
      And the wIMPU Registrar holds no registration for alice, as the solution profile chooses (PROFILE_LIFE_TAKEOVER_CLEANUP)

  Rule: A WIC is registered only within its block's registration, also at the eP-CSCF its block was taken from

    The failed eP-CSCF comes back: it does not take the block back (the reference stands by for it,
    docs/failover.md), and a WIC that kept the address and the token of its first log-in (still
    valid, issued for that eP-CSCF) registers there (5.2.2.5.2 step 3 in the wrong state). The text
    does not say what that eP-CSCF answers: a decomposed eP-CSCF's IWF "can communicate with any
    P-CSCF" (5.2.2.2) and may register the WIC through the one holding the block, the reference
    answers 503 with Retry-After. What it must not do is register the WIC outside the block's
    registration, where the block's terminating requests, sent to the other eP-CSCF, never reach
    it; nor register the block a second time.

    @fault_injection @block_option_1 @option_a @clause_5_2_2_5_2 @step_3 @inopportune @TP_WIMPU_LIFE_010
    Scenario: A WIC registering at the eP-CSCF its block was re-allocated from is not registered outside the block's registration
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      And WIC "A1" has registered with the identity and the token of alice
      And eP-CSCF "ep-cscf1" has failed and block "sip:wrtc-!.*!@block1.ims.example.net" has been re-allocated to eP-CSCF "ep-cscf2"
      When eP-CSCF "ep-cscf1" is started again
      And WIC "A3" of alice connects with the address and the token of alice's first log-in and registers
      Then WIC "A3" is registered within the registration of its block, or not at all
      And eP-CSCF "ep-cscf1" has not registered block "sip:wrtc-!.*!@block1.ims.example.net" again since it was started again
      And eP-CSCF "ep-cscf2" has registered block "sip:wrtc-!.*!@block1.ims.example.net" with the S-CSCF, and no other registration of it is left
