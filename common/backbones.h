/*
 * backbones.h: the known architectures, built as layer graphs with the parameter
 * names of the reference PyTorch code (ALGORITHMS.md §1.2, §1.3).
 *
 *   ir18 ir34 ir50 ir100          TFace IR (BN-Conv-BN-PReLU-Conv-BN units, stride on the
 *   irse18 irse34 irse50 irse100  second conv, MaxPool(1,s) shortcut when in == depth)
 *                                 and IR-SE; output BN2d-Dropout(0.4)-Flatten-Linear-BN1d
 *   mobilefacenet                 TFace MobileFaceNet with the GDC head
 *   resnet18-cifar                ResNet-18 for 32x32 inputs (3x3 stem, no max pool)
 *   tiny-ir tiny-mfn tiny-resnet  small nets of the same layouts, for tests
 *
 * input is the image side (112 or 224 for faces; a multiple of 16), emb the embedding
 * size (or the classes of resnet18-cifar). The preprocessing block is set to the
 * layout's convention ((x/255 - 0.5)/0.5 RGB for faces, x/255 for CIFAR).
 */
#ifndef FR_BACKBONES_H
#define FR_BACKBONES_H

#include "nn.h"

// NULL with fr_err for an unknown architecture or an input size it cannot take.
Net *backbone_new(const char *arch, int input, int emb);
// The names backbone_new knows, space-separated (for --help).
const char *backbone_names(void);

#endif
