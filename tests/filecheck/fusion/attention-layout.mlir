// RUN: sparsec opt %s -p fusion --split-input-file | filecheck %s
// RUN: sparsec opt %s -p fusion,fusion --split-input-file | filecheck %s

// BERT's pattern: permuted q, k, v and a permuted result: layout bshd everywhere, no permutes.
// CHECK-LABEL: sym_name = "bert"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[A:.*]] = "sparsec.attention"(%arg0, %arg1, %arg2, %arg3) <{layout = ["bshd", "bshd", "bshd", "bshd"], scale = 0.5 : f64}> : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>
// CHECK-NEXT: "func.return"(%[[A]])
"func.func"() <{function_type = (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>, sym_name = "bert"}> ({
^bb0(%arg0: tensor<1x8x2x4xf32>, %arg1: tensor<1x8x2x4xf32>, %arg2: tensor<1x8x2x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %q = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %k = "sparsec.permute"(%arg1) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %v = "sparsec.permute"(%arg2) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %a = "sparsec.attention"(%q, %k, %v, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  %o = "sparsec.permute"(%a) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
  "func.return"(%o) : (tensor<1x8x2x4xf32>) -> ()
}) : () -> ()

// -----

// Only the operands that are permuted change layout; the result has no permute after it.
// CHECK-LABEL: sym_name = "some"
// CHECK: "sparsec.attention"(%arg0, %{{.*}}, %{{.*}}, %arg3) <{layout = ["bshd", "bhsd", "bhsd", "bhsd"]
// CHECK-SAME: -> tensor<1x2x8x4xf32>
"func.func"() <{function_type = (tensor<1x8x2x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>, sym_name = "some"}> ({
^bb0(%arg0: tensor<1x8x2x4xf32>, %arg1: tensor<1x2x8x4xf32>, %arg2: tensor<1x2x8x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %q = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %a = "sparsec.attention"(%q, %arg1, %arg2, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  "func.return"(%a) : (tensor<1x2x8x4xf32>) -> ()
}) : () -> ()

// -----

// An input permute with another user stays for it; the attention still reads its source.
// CHECK-LABEL: sym_name = "shared_input"
// CHECK: %[[P:.*]] = "sparsec.permute"(%arg0)
// CHECK: %[[A:.*]] = "sparsec.attention"(%arg0, %arg1, %arg2, %arg3) <{layout = ["bshd", "bhsd", "bhsd", "bhsd"]
// CHECK: "func.return"(%[[A]], %[[P]])
"func.func"() <{function_type = (tensor<1x8x2x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>), sym_name = "shared_input"}> ({
^bb0(%arg0: tensor<1x8x2x4xf32>, %arg1: tensor<1x2x8x4xf32>, %arg2: tensor<1x2x8x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %q = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %a = "sparsec.attention"(%q, %arg1, %arg2, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  "func.return"(%a, %q) : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a permute with another perm stays.
// CHECK-LABEL: sym_name = "other_perm"
// CHECK-NOT: layout
// CHECK: "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 3, 1>}>
// CHECK-NOT: layout
"func.func"() <{function_type = (tensor<1x4x2x8xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>, sym_name = "other_perm"}> ({
^bb0(%arg0: tensor<1x4x2x8xf32>, %arg1: tensor<1x2x8x4xf32>, %arg2: tensor<1x2x8x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %q = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 3, 1>}> : (tensor<1x4x2x8xf32>) -> tensor<1x2x8x4xf32>
  %a = "sparsec.attention"(%q, %arg1, %arg2, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  "func.return"(%a) : (tensor<1x2x8x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a result with two users (the permute and the return) keeps its layout.
// CHECK-LABEL: sym_name = "result_two_users"
// CHECK-NOT: layout
// CHECK: "sparsec.permute"(%{{.*}}) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
"func.func"() <{function_type = (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> (tensor<1x8x2x4xf32>, tensor<1x2x8x4xf32>), sym_name = "result_two_users"}> ({
^bb0(%arg0: tensor<1x2x8x4xf32>, %arg1: tensor<1x2x8x4xf32>, %arg2: tensor<1x2x8x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %a = "sparsec.attention"(%arg0, %arg1, %arg2, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  %o = "sparsec.permute"(%a) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
  "func.return"(%o, %a) : (tensor<1x8x2x4xf32>, tensor<1x2x8x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: a permuted key that broadcasts over the batch stays a permute.
// CHECK-LABEL: sym_name = "broadcast_key"
// CHECK: "sparsec.permute"(%arg1)
// CHECK: "sparsec.attention"(%arg0, %{{.*}}, %arg2, %arg3) <{layout = ["bshd", "bhsd", "bhsd", "bhsd"]
"func.func"() <{function_type = (tensor<1x8x2x4xf32>, tensor<1x8x1x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>, sym_name = "broadcast_key"}> ({
^bb0(%arg0: tensor<1x8x2x4xf32>, %arg1: tensor<1x8x1x4xf32>, %arg2: tensor<1x2x8x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %q = "sparsec.permute"(%arg0) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %k = "sparsec.permute"(%arg1) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x1x4xf32>) -> tensor<1x1x8x4xf32>
  %a = "sparsec.attention"(%q, %k, %arg2, %arg3) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x1x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  "func.return"(%a) : (tensor<1x2x8x4xf32>) -> ()
}) : () -> ()

// -----

// NEGATIVE: rank-3 attention (no heads axis) has no layouts.
// CHECK-LABEL: sym_name = "rank3"
// CHECK-NOT: layout
// CHECK: "sparsec.permute"
"func.func"() <{function_type = (tensor<2x8x4xf32>) -> tensor<8x2x4xf32>, sym_name = "rank3"}> ({
^bb0(%arg0: tensor<2x8x4xf32>):
  %a = "sparsec.attention"(%arg0, %arg0, %arg0) <{scale = 0.5 : f64}> : (tensor<2x8x4xf32>, tensor<2x8x4xf32>, tensor<2x8x4xf32>) -> tensor<2x8x4xf32>
  %o = "sparsec.permute"(%a) <{perm = array<i64: 1, 0, 2>}> : (tensor<2x8x4xf32>) -> tensor<8x2x4xf32>
  "func.return"(%o) : (tensor<8x2x4xf32>) -> ()
}) : () -> ()

// -----

// q, k, v sliced from one tensor (combined projections): attention reads its heads in place,
// from one reshape of that tensor into all of its heads; no slice is left to copy.
// CHECK-LABEL: sym_name = "packed"
// CHECK-NEXT: ^bb0
// CHECK-NEXT: %[[R:.*]] = "sparsec.reshape"(%arg0) <{shape = array<i64: 1, 8, 6, 4>}> : (tensor<1x8x24xf32>) -> tensor<1x8x6x4xf32>
// CHECK-NEXT: %[[A:.*]] = "sparsec.attention"(%[[R]], %[[R]], %[[R]], %arg1) <{head_offsets = array<i64: 0, 2, 4>, heads = 2, layout = ["bshd", "bshd", "bshd", "bshd"], scale = 0.5 : f64}> : (tensor<1x8x6x4xf32>, tensor<1x8x6x4xf32>, tensor<1x8x6x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>
// CHECK-NEXT: "func.return"(%[[A]])
"func.func"() <{function_type = (tensor<1x8x24xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>, sym_name = "packed"}> ({
^bb0(%arg0: tensor<1x8x24xf32>, %arg1: tensor<1x1x8x8xi1>):
  %sq = "sparsec.slice"(%arg0) <{axis = 2, end = 8, start = 0, step = 1}> : (tensor<1x8x24xf32>) -> tensor<1x8x8xf32>
  %sk = "sparsec.slice"(%arg0) <{axis = 2, end = 16, start = 8, step = 1}> : (tensor<1x8x24xf32>) -> tensor<1x8x8xf32>
  %sv = "sparsec.slice"(%arg0) <{axis = 2, end = 24, start = 16, step = 1}> : (tensor<1x8x24xf32>) -> tensor<1x8x8xf32>
  %rq = "sparsec.reshape"(%sq) <{shape = array<i64: 1, 8, 2, 4>}> : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
  %rk = "sparsec.reshape"(%sk) <{shape = array<i64: 1, 8, 2, 4>}> : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
  %rv = "sparsec.reshape"(%sv) <{shape = array<i64: 1, 8, 2, 4>}> : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
  %q = "sparsec.permute"(%rq) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %k = "sparsec.permute"(%rk) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %v = "sparsec.permute"(%rv) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x8x2x4xf32>) -> tensor<1x2x8x4xf32>
  %a = "sparsec.attention"(%q, %k, %v, %arg1) <{scale = 0.5 : f64}> : (tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x2x8x4xf32>
  %o = "sparsec.permute"(%a) <{perm = array<i64: 0, 2, 1, 3>}> : (tensor<1x2x8x4xf32>) -> tensor<1x8x2x4xf32>
  "func.return"(%o) : (tensor<1x8x2x4xf32>) -> ()
}) : () -> ()

// -----

// Only the sliced operand moves; one that starts inside a head (start 2, heads of 4) stays.
// CHECK-LABEL: sym_name = "partly"
// CHECK: "sparsec.slice"(%arg0) <{axis = 2, end = 10, start = 2
// CHECK: "sparsec.attention"(%{{.*}}, %{{.*}}, %arg2, %arg3) <{head_offsets = array<i64: 0, 0, 0>, heads = 2
"func.func"() <{function_type = (tensor<1x8x24xf32>, tensor<1x8x16xf32>, tensor<1x8x2x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>, sym_name = "partly"}> ({
^bb0(%arg0: tensor<1x8x24xf32>, %arg1: tensor<1x8x16xf32>, %arg2: tensor<1x8x2x4xf32>, %arg3: tensor<1x1x8x8xi1>):
  %sq = "sparsec.slice"(%arg0) <{axis = 2, end = 10, start = 2, step = 1}> : (tensor<1x8x24xf32>) -> tensor<1x8x8xf32>
  %sk = "sparsec.slice"(%arg1) <{axis = 2, end = 8, start = 0, step = 1}> : (tensor<1x8x16xf32>) -> tensor<1x8x8xf32>
  %q = "sparsec.reshape"(%sq) <{shape = array<i64: 1, 8, 2, 4>}> : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
  %k = "sparsec.reshape"(%sk) <{shape = array<i64: 1, 8, 2, 4>}> : (tensor<1x8x8xf32>) -> tensor<1x8x2x4xf32>
  %a = "sparsec.attention"(%q, %k, %arg2, %arg3) <{layout = ["bshd", "bshd", "bshd", "bshd"], scale = 0.5 : f64}> : (tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x8x2x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x2x4xf32>
  "func.return"(%a) : (tensor<1x8x2x4xf32>) -> ()
}) : () -> ()
