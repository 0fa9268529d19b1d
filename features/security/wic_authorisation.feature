@security @ep_cscf @clause_5_2_2_5_2
Feature: 5.2.2.5.2 WIC authorisation at the eP-CSCF
  Step 2: "Standard cross-origin resource sharing (CORS) procedures are used to ensure
  that the WIC originated from a WWSF authorized to access this eP-CSCF."
  Step 4: "The eP-CSCF shall validate the contents of the security token in relation to
  the user identity." 5.2.2.3.2: "The eP-CSCF shall perform the WIC authorization at WIC
  registration". A refused WIC leaves nothing in the wIMPU Registrar.

  Background:
    Given the wIMPU stack is running with the reference profile

  Rule: Step 2 - only a WIC from an authorised WWSF may open a WSS connection

    @step_2 @negative @TP_WIMPU_SEC_001
    Scenario: A page from another origin is refused at the WebSocket handshake
      Given alice has logged in at the WWSF and received a security token
      When WIC "A1" of alice opens a WSS connection to the eP-CSCF of its block from origin "https://evil.example.com"
      Then the eP-CSCF refuses the WebSocket handshake with HTTP 403

  Rule: Step 4 - a REGISTER without a valid token for its identity is refused

    @step_4 @negative @TP_WIMPU_SEC_002
    Scenario: A REGISTER without a token is challenged
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers with the identity of alice and no token
      Then the eP-CSCF answers 401
      And the response challenges for a Bearer token from the WWSF
      And the wIMPU Registrar holds no registration for alice

    @step_4 @negative @TP_WIMPU_SEC_003
    Scenario: A valid token for another identity is refused
      Given alice has logged in at the WWSF and received a security token
      And WIC "A1" of alice has opened a WSS connection to the eP-CSCF of its block
      When WIC "A1" registers as "sip:wrtc-mallory@block1.ims.example.net" with the token of alice
      Then the eP-CSCF answers 403
      And the wIMPU Registrar holds no registration for "sip:wrtc-mallory@block1.ims.example.net"
      And the wIMPU Registrar holds no registration for alice
