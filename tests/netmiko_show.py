#!/usr/bin/env python3
"""Drives vnswitch's shell with Netmiko as a network automation script would: logs in over
SSH (device_type cisco_ios) and over telnet (cisco_ios_telnet), runs one command on each and
prints both outputs as JSON ({"ssh": ..., "telnet": ...}) for tests/ssh.rs to compare.

Usage: netmiko_show.py SSH_PORT TELNET_PORT USER PASSWORD COMMAND
"""
import json
import sys

from netmiko import ConnectHandler


def run(device_type, port, user, password, command):
    conn = ConnectHandler(
        device_type=device_type,
        host="127.0.0.1",
        port=port,
        username=user,
        password=password,
        timeout=20,
    )
    try:
        return conn.send_command(command)
    finally:
        conn.disconnect()


def main():
    ssh_port, telnet_port, user, password, command = sys.argv[1:6]
    out = {
        "ssh": run("cisco_ios", int(ssh_port), user, password, command),
        "telnet": run("cisco_ios_telnet", int(telnet_port), user, password, command),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
