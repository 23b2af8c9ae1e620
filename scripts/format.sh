#!/usr/bin/env bash
# Formats the project's Swift sources in place with swift-format and the settings in .swift-format.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift format --in-place --recursive --configuration .swift-format Sources Tests Benchmarks Package.swift
