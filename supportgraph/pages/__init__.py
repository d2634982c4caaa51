"""The pages people use: the customer chat widget, the agent console and the dashboard."""
