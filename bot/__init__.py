"""先锋 (xianfeng): a WeChat Work bot for 创先争优 campaigns."""
