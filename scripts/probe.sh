#!/bin/sh
# probe.sh CC "header.h [header2.h]" FLAGS...: print 1 if a program including the
# headers compiles and links with FLAGS, else 0. Used by the Makefile's detection.
cc=$1; headers=$2; shift 2
{
  for h in $headers; do printf '#include <%s>\n' "$h"; done
  printf 'int main(void){return 0;}\n'
} | "$cc" -x c - -o /dev/null "$@" >/dev/null 2>&1 && echo 1 || echo 0
