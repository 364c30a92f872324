`timescale 1ns / 1ps
// edgec RTL kernel library: the activation of PE lanes (combinational).
// NT > 0: out = OUT_LO + #{i : s*acc >= T[i]} in OB bits (BIPOLAR: bit 1 when the count is
// 1), s = -1 where neg is set; thresholds of lane p at t[(p*NT + i)*CB +: CB], two's
// complement. NT = 0: out = the low OB bits of acc. acc: PE lanes of DW signed bits.
// SIGNED_STEPS = 1 (an activation that falls somewhere): threshold i of lane p is a
// falling step where dn[p*NT + i] is set, out = OUT_LO + sum_i (s*acc >= T[i] ? (dn ? -1
// : +1) : 0) (BIPOLAR: bit 1 when that sum is 1), counted modulo 2^OB (the true result
// is an OB-bit code); SIGNED_STEPS = 0: dn is not looked at.
module edgec_act #(
    parameter PE = 1,
    parameter DW = 16,
    parameter NT = 1,
    parameter CB = 16,
    parameter OB = 2,
    parameter OUT_LO = 0,
    parameter BIPOLAR = 0,
    parameter SIGNED_STEPS = 0
) (
    input wire [PE*DW-1:0] acc,
    input wire [PE*(NT > 0 ? NT : 1)*CB-1:0] t,
    input wire [PE-1:0] neg,
    input wire [PE*(NT > 0 ? NT : 1)-1:0] dn,
    output wire [PE*OB-1:0] out
);
    localparam integer OUT_LO_I = OUT_LO;
    localparam [OB-1:0] OUT_LO_B = OUT_LO_I[OB-1:0];
    localparam EW = (CB > DW ? CB : DW) + 1;  // holds -acc and every threshold
    genvar p;
    generate
        if (NT == 0 || SIGNED_STEPS == 0) begin : nodn
            wire unused_dn = ^dn;
        end
        if (NT == 0) begin : pass
            wire unused_thr = ^{t, neg};
            for (p = 0; p < PE; p = p + 1) begin : lane
                wire [DW-1:0] unused_acc = acc[p*DW+:DW];
                assign out[p*OB+:OB] = acc[p*DW+:OB];
            end
        end else begin : thr
            for (p = 0; p < PE; p = p + 1) begin : lane
                reg signed [EW-1:0] v, th;
                reg [OB-1:0] count;  // NT <= 2^OB - 1, or signed steps (modulo 2^OB)
                integer j;
                always @* begin
                    v = {{(EW - DW) {acc[p*DW+DW-1]}}, acc[p*DW+:DW]};
                    if (neg[p]) v = -v;
                    count = {OB{1'b0}};
                    for (j = 0; j < NT; j = j + 1) begin
                        th = {{(EW - CB) {t[(p*NT+j)*CB+CB-1]}}, t[(p*NT+j)*CB+:CB]};
                        if (SIGNED_STEPS != 0 && dn[p*NT+j]) count = count - {{(OB - 1) {1'b0}}, v >= th};
                        else count = count + {{(OB - 1) {1'b0}}, v >= th};
                    end
                end
                if (BIPOLAR != 0) begin : bip
                    assign out[p*OB+:OB] = count;
                end else begin : lvl
                    assign out[p*OB+:OB] = OUT_LO_B + count;
                end
            end
        end
    endgenerate
endmodule
