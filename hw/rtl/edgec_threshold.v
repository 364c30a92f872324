`timescale 1ns / 1ps
// edgec RTL kernel library: the edgec_act activation of a (vectors, C) stream, channel
// cf*PE + pe, thresholds in TFILE/NFILE (and with SIGNED_STEPS = 1 the falling-step flags
// in DFILE) as in edgec_mvau. One word per cycle.
module edgec_threshold #(
    parameter C = 1,
    parameter PE = 1,
    parameter IB = 8,
    parameter IS = 0,
    parameter NT = 1,
    parameter CB = 10,
    parameter OB = 2,
    parameter OUT_LO = 0,
    parameter BIPOLAR = 0,
    parameter SIGNED_STEPS = 0,
    parameter TFILE = "t.mem",
    parameter NFILE = "n.mem",
    parameter DFILE = "d.mem"
) (
    input wire clk,
    input wire rst_n,
    input wire [PE*IB-1:0] s_tdata,
    input wire s_tlast,
    input wire s_tvalid,
    output wire s_tready,
    output reg [PE*OB-1:0] m_tdata,
    output reg m_tlast,
    output reg m_tvalid,
    input wire m_tready
);
    localparam CF = C / PE;
    localparam DW = IB + 1;
    reg [NT*CB*PE-1:0] tmem[0:CF-1];
    reg [PE-1:0] nmem[0:CF-1];
    reg [NT*PE-1:0] dmem[0:CF-1];
    initial begin
        $readmemh(TFILE, tmem);
        $readmemh(NFILE, nmem);
        if (SIGNED_STEPS != 0) $readmemh(DFILE, dmem);
    end
    integer cf;
    wire out_free = !m_tvalid || m_tready;
    assign s_tready = out_free;
    reg [PE*DW-1:0] ext;
    integer p;
    always @*
        for (p = 0; p < PE; p = p + 1)
            ext[p*DW+:DW] = {(IS != 0) ? s_tdata[p*IB+IB-1] : 1'b0, s_tdata[p*IB+:IB]};
    wire [PE*OB-1:0] act;
    edgec_act #(.PE(PE), .DW(DW), .NT(NT), .CB(CB), .OB(OB), .OUT_LO(OUT_LO), .BIPOLAR(BIPOLAR),
                .SIGNED_STEPS(SIGNED_STEPS)) activation (.acc(ext), .t(tmem[cf]), .neg(nmem[cf]), .dn(dmem[cf]),
                                                         .out(act));
    always @(posedge clk) begin
        if (!rst_n) begin
            cf <= 0;
            m_tvalid <= 1'b0;
            m_tlast <= 1'b0;
        end else begin
            if (m_tvalid && m_tready) m_tvalid <= 1'b0;
            if (s_tvalid && out_free) begin
                m_tdata <= act;
                m_tlast <= s_tlast;
                m_tvalid <= 1'b1;
                cf <= (cf == CF - 1) ? 0 : cf + 1;
            end
        end
    end
endmodule
