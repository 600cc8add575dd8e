/* SPDX-License-Identifier: MIT */
/* Marks a definition as part of the public ABI; everything else stays
 * hidden (the library is built with -fvisibility=hidden). */
#ifndef VHD_EXPORT_H
#define VHD_EXPORT_H

#define VHD_EXPORT __attribute__((visibility("default")))

#endif
