Feature: Wire evidence of a scenario

  Scenario: A WIC registers with a token
    Given the fake stack is running
    When alice logs in and registers
    And alice is called
    Then the call is answered

  Scenario Outline: A WIC sends a message
    Given the fake stack is running
    When <user> sends a message

    Examples:
      | user  |
      | alice |
      | bob   |

  Scenario: A scenario the harness could not capture
    Given the fake stack is not captured
    Then nothing is on the wire

  Scenario: A scenario whose capture file is broken
    Given the fake stack is running with a broken capture file
    When alice sends a message
