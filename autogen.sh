#!/bin/sh
# SPDX-License-Identifier: MIT
# Generates configure and Makefile.in from a git checkout (release tarballs
# ship them). Run it again after editing configure.ac or a Makemodule.am.
set -e
cd "$(dirname "$0")"
mkdir -p m4
autoreconf --force --install --warnings=all
