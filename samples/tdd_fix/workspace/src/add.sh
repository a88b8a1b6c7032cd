#!/bin/sh
# Prints the sum of its two arguments. (It does not: that is the bug tdd_fix.lua fixes.)
echo $(( $1 - $2 ))
