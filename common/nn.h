/*
 * nn.h: networks as small layer graphs (DESIGN.md §4).
 *
 * A Net is a list of nodes in topological order; each node has a typed layer (a
 * LayerType vtable and a private struct no other file sees), up to four inputs by
 * index (residual links, a side branch feeding many layers), and a per-sample output
 * shape. Each network instance owns its arenas: parameters and buffers (one block,
 * carved by a size table), parameter gradients (absent when frozen), and activations
 * with their gradients (allocated for a batch size, reused every step). Nothing is
 * allocated in the step loop. Several networks live side by side in one process.
 *
 * Every parameter and buffer has a stable name, "<node>.<tensor>" (the IR backbones
 * use TFace's module names, so "body.0.res_layer.1.weight" is what it is in PyTorch),
 * and a network saves to and loads from FRCK by name.
 */
#ifndef FR_NN_H
#define FR_NN_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "bundle.h"
#include "ops.h"
#include "rng.h"

#define NN_MAX_IN 4
#define NN_MAX_SEG 8

typedef struct Shape {
    int c, h, w;  // per sample; a flat vector is (features, 1, 1)
} Shape;
static inline size_t shape_numel(Shape s) { return (size_t)s.c * s.h * s.w; }

typedef struct Net Net;
typedef struct Node Node;

// What a parameter is, for weight decay and initialisation.
enum { P_WEIGHT, P_BIAS, P_BN_WEIGHT, P_BN_BIAS, P_PRELU, P_BUFFER };

typedef struct Param {
    char *name;
    int kind;            // P_*
    int node;
    uint32_t ndim, dims[4];
    size_t off, n;       // floats into net->pdata (and net->gdata for trainable ones)
} Param;

typedef struct LayerType {
    const char *name;
    size_t priv_size;
    // output shape from the inputs' shapes; -1 with fr_err when they do not fit
    int (*infer)(Node *n, Net *net);
    // declare parameters and buffers with net_param()
    void (*declare)(Node *n, Net *net);
    // floats of per-batch state saved for backward, and of scratch workspace
    size_t (*saved)(Node *n, Net *net, int batch);
    size_t (*ws)(Node *n, Net *net, int batch);
    void (*forward)(Node *n, Net *net, int batch);
    // write the gradient of each input into din[k] (a node's dy or scratch); may be NULL
    void (*backward)(Node *n, Net *net, int batch, float **din);
    // initialise its parameters (TFace initialize_weights)
    void (*init)(Node *n, Net *net, uint64_t seed);
    // its configuration as "key=value ..." text (serialisation), and back
    void (*describe)(const Node *n, char *buf, size_t len);
    int (*configure)(Node *n, const char *desc);
} LayerType;

struct Node {
    const LayerType *type;
    char *name;
    int in[NN_MAX_IN], nin;
    Shape out;
    void *priv;
    int p0, np;          // its parameters: net->params[p0 .. p0+np)
    float *y, *dy;       // output (batch x numel) and its gradient
    float *saved;
    int consumers;
    int dy_set;          // net_backward: a consumer has written dy (nodes with several consumers)
    // a batch norm whose one consumer is a ReLU or PReLU: the index of that node, whose
    // output it writes itself (the two run as one pass, the batch norm's output never
    // stored); -1 on that activation node; 0 elsewhere (net_finalize)
    int fused;
    // a convolution whose one consumer is a batch norm: that node's index, and minus
    // the convolution's on the batch norm; 0 elsewhere. Where the batch norm would use
    // its running statistics and no parameter gradient is wanted (fold_active in nn.c),
    // the convolution runs with the batch norm folded into its weights and bias
    // (net->fold + fold_at) and writes the batch norm's output itself.
    int fold;
    size_t fold_at;
    // a convolution's weights packed for the direct forward, net->pack + pack_at, when a
    // frozen network runs in chunks (net_alloc); SIZE_MAX elsewhere
    size_t pack_at;
};

struct Net {
    char *name;
    const Backend *be;
    Node *nodes;
    int nn, ncap;
    Param *params;
    int np, pcap;
    float *pdata, *gdata;   // host parameters and buffers (files, init), host gradients
    float *wp, *wg;         // where the ops read them: pdata/gdata, or their copies on a device
    size_t ptotal;
    int finalized, frozen;
    int training;        // batch statistics and dropout
    int update_stats;    // training BN updates running statistics
    int param_grads;     // backward computes parameter gradients (attacks turn this off)
    int input_grad;      // backward computes the input gradient (trainers turn this off)
    int dropout_off;     // dropout is the identity even in training (reference checks)
    int fuse_off;        // batch norms and their activations run apart (reference checks)
    int fold_off;        // batch norms never fold into the convolutions before them (checks)
    float *fold;         // folded weights and biases (Node.fold), fold_floats of them
    size_t fold_floats;
    int micro;           // a frozen network on the CPU in eval mode runs forward through chunks
                         // of this many samples (0: the whole batch at once), see net_forward
    int tail;            // with chunks: nodes from here on run once on the whole batch (net_alloc)
    float *pack;         // with chunks: the direct convolutions' packed weights (Node.pack_at),
    int pack_now;        // packed by the first chunk of each net_forward (pack_now set)
    int output;
    // segments of a batch with their own BN statistics, and (dual BN) which set each updates
    int nseg, seg[NN_MAX_SEG + 1], seg_set[NN_MAX_SEG];
    uint64_t seed, step; // dropout masks: (seed, RNG_DROPOUT, step)
    // activations
    int batch, mb;       // the batch allocated, and the rows of each activation but the output's
    float *act, *ws, *gtmp;
    size_t act_floats, ws_floats;
    FrPrep prep;
    double *prof;        // per node: forward and backward seconds, calls (net_profile_on)
    char *arch;          // the known architecture and its options, as text (informational)
};

// ---------------------------------------------------------------- building
Net *net_new(const char *name);
void net_free(Net *net);
// Add a node of type `type` named `name` with inputs; `desc` configures it ("k=3 s=2 ...").
// Returns its index; dies on a configuration error (naming the node).
int net_add(Net *net, const char *type, const char *name, const int *in, int nin, const char *desc);
// The same, returning -1 with fr_err instead of dying (for graphs read from files).
int net_add_checked(Net *net, const char *type, const char *name, const int *in, int nin, const char *desc);
int net_input(Net *net, int c, int h, int w);
// Declare a parameter (called from LayerType.declare)
void net_param(Net *net, Node *n, const char *suffix, int kind, uint32_t ndim, const uint32_t *dims);
// Infer shapes, allocate parameters; frozen: no gradient memory at all.
int net_finalize(Net *net, int frozen);
// Initialise every parameter (seeded, per parameter, so the result does not depend on order of calls)
void net_init(Net *net, uint64_t seed);
const LayerType *layer_type(const char *name);

// ---------------------------------------------------------------- devices
// Run the network on backend be (after finalize, init or load): a device backend gets
// copies of the parameters and its own gradient and activation memory. Afterwards
// net_forward/net_backward still take host inputs and gradients, and return pointers
// into the backend's memory (download them with be->download).
void net_to(Net *net, const Backend *be);
// Copy the working parameters back into pdata (before saving), or pdata to the device.
void net_pull(Net *net);
void net_push(Net *net);

// ---------------------------------------------------------------- running
// Allocate activations for batch size (idempotent for the same size).
void net_alloc(Net *net, int batch);
// Forward from x (batch, input shape); returns the output node's activations.
float *net_forward(Net *net, const float *x, int batch);
// Backward from the gradient of the output; parameter gradients are accumulated (+=),
// the input gradient is in net->nodes[0].dy afterwards (unless input_grad is 0: then the
// first layers skip it, which saves a training step the first convolution's dx).
void net_backward(Net *net, const float *dout, int batch);
void net_zero_grad(Net *net);
// Time every node's forward and backward (the backend is synchronised around each, so
// GPU times are real); net_profile_print writes one line per node (name, type, shape,
// ms per call forward and backward, GFLOP/s of convolutions and linear layers: the
// backward counts twice the forward's FLOPs, once without parameter gradients) and the
// totals per layer type.
void net_profile_on(Net *net);
void net_profile_print(const Net *net, FILE *f);
static inline Node *net_out(Net *net) { return &net->nodes[net->output]; }
size_t net_param_count(const Net *net, int trainable_only);
Param *net_find_param(Net *net, const char *name);
// the host copy (pdata): on a device, net_pull(net) first to see what the device has
float *net_param_data(Net *net, const char *name);

// ---------------------------------------------------------------- saving and loading
// Serialise the graph (GRPH section), arch text, prep block and every tensor by name.
void net_to_bundle(Net *net, FrBundle *b);
void net_save(Net *net, const char *path, const char *prov, int force);
// Rebuild a network from a bundle's GRPH section (not finalized).
Net *net_from_bundle(const FrBundle *b, const char *file);
// Copy tensors by name into net; reports matched / missing / unexpected through the
// counts and (verbose) lists. strict: missing or unexpected is an error (-1, fr_err).
int net_load_tensors(Net *net, const FrBundle *b, int strict, int *matched, int *missing, int *unexpected);
// Build, finalize (frozen or not) and load a saved network.
Net *net_load(const char *path, int frozen);

#endif
